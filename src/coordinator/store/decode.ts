/**
 * Reading one stored value: JSON, then its schema. A value that fails is reported (its key and what is wrong with
 * it, never the value: a hand-written record could hold anything) and skipped; it never stops the reader.
 */
import type { z } from 'zod';
import type { KeyValue } from '../etcd/client.js';

export interface StoreLog {
  warn(fields: Record<string, unknown>, msg: string): void;
}

/** zod's issues as paths and messages: zod's messages name keys and expectations, not the values it was given. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      // A record key's own complaint (e.g. "names a secret") is nested; the outer message only says "Invalid key".
      const inner = i.code === 'invalid_key' ? i.issues[0]?.message : undefined;
      return `${i.path.length ? i.path.join('.') : '(value)'}: ${inner ?? i.message}`;
    })
    .join('; ');
}

export function decode<S extends z.ZodType>(schema: S, kv: KeyValue, log: StoreLog): z.output<S> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(kv.value);
  } catch {
    log.warn({ key: kv.key }, 'store: a value is not JSON; skipped');
    return undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    log.warn(
      { key: kv.key, issues: describeIssues(parsed.error) },
      'store: a value does not match its schema; skipped',
    );
    return undefined;
  }
  return parsed.data;
}

/** Checks a value before it is written; a failure is a bug of the writer (the message names the fields only). */
export function encode<S extends z.ZodType>(schema: S, value: z.input<S>, what: string): string {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`store: refusing to write ${what}: ${describeIssues(parsed.error)}`);
  return JSON.stringify(parsed.data);
}
