import type { z } from 'zod';
import type { BrokerErrorName } from './errors.js';

/**
 * One broker method = a schema for its params and one for its result. The same definition drives the server's
 * validation, the typed client's params and result, and the method table in docs/hosted-engine.md.
 */
export interface BrokerMethod<P extends z.ZodObject = z.ZodObject, R extends z.ZodType = z.ZodType> {
  description: string;
  params: P;
  result: R;
  /** The refusals particular to this method (any method may also fail with invalidParams, storageIo, …). */
  refuses?: readonly BrokerErrorName[];
}

export function defineMethod<P extends z.ZodObject, R extends z.ZodType>(
  method: BrokerMethod<P, R>,
): BrokerMethod<P, R> {
  return method;
}
