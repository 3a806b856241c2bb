import { z } from 'zod';
import { RPC_ERRORS, VdsmError } from '../common/errors.js';
import type { VerbContext } from './context.js';
import type { Verb } from './define.js';

/** JSON-RPC's "invalid params"; vdsm only uses it in strict mode, we always validate. */
const INVALID_PARAMS = RPC_ERRORS.invalidParams;

export interface CallFacts {
  flowId?: string;
  localAddress?: string;
}

/**
 * Turns a verb into a JSON-RPC method: positional params are mapped in schema order (as vdsm maps them),
 * unknown params are logged and ignored (vdsm's non-strict mode), the rest is validated by the verb's schema.
 */
export function bindVerb(verb: Verb, base: Omit<VerbContext, 'localAddress'>) {
  const keys = Object.keys(verb.params.shape);
  // Not async: validation errors throw synchronously and a synchronous handler costs no promise.
  return (raw: Record<string, unknown> | unknown[], facts: CallFacts) => {
    const named = Array.isArray(raw) ? positionalToNamed(verb, keys, raw) : raw;
    const unknown = Object.keys(named).filter((k) => !keys.includes(k));
    if (unknown.length > 0) base.log.info({ method: verb.name, unknown }, 'ignoring unknown params');
    const parsed = verb.params.safeParse(named);
    if (!parsed.success) throw new VdsmError(INVALID_PARAMS, `Invalid params: ${describeIssues(parsed.error)}`);
    return verb.handler(parsed.data, { ...base, localAddress: facts.localAddress });
  };
}

function positionalToNamed(verb: Verb, keys: string[], values: unknown[]): Record<string, unknown> {
  if (values.length > keys.length) {
    throw new VdsmError(INVALID_PARAMS, `Invalid params: ${verb.name} takes at most ${keys.length} positional params`);
  }
  return Object.fromEntries(values.map((v, i) => [keys[i]!, v]));
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(params)'}: ${issue.message}`)
    .join('; ');
}
