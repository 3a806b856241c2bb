import type { z } from 'zod';
import type { VerbContext } from './context.js';

/**
 * One verb = one schema for its params, one for its result, and a handler. The same definition drives
 * validation, `vdsm-client` help and docs/api.md.
 */
export interface Verb<P extends z.ZodObject = z.ZodObject, R extends z.ZodType = z.ZodType> {
  /** `Namespace.verb`, as the engine sends it in `method`. */
  name: string;
  description: string;
  params: P;
  result: R;
  handler(params: z.output<P>, ctx: VerbContext): Promise<z.input<R>> | z.input<R>;
}

export function defineVerb<P extends z.ZodObject, R extends z.ZodType>(verb: Verb<P, R>): Verb<P, R> {
  return verb;
}
