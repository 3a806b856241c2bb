/**
 * vdsm-client sends name=value arguments as strings ({"fullStatus": "true"}). Every boolean and integer param of
 * every verb takes those strings; the list of params comes from the catalogue's schemas (as docs/api.md sees them),
 * so a new verb is covered without touching this file.
 */
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { HostStatsSampler } from '../src/host/stats.js';
import { JsonRpcDispatcher } from '../src/rpc/jsonrpc.js';
import { bindVerb } from '../src/verbs/bind.js';
import { VERBS } from '../src/verbs/catalogue.js';
import { HA_NOT_CONFIGURED } from '../src/common/ha-status.js';
import type { Verb } from '../src/verbs/define.js';
import { captureLog } from './support/capture-log.js';

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  minLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

interface TypedParam {
  verb: Verb;
  root: Schema;
  path: string[];
  schema: Schema;
  kind: 'boolean' | 'integer';
}

function inputSchema(verb: Verb): Schema {
  return z.toJSONSchema(verb.params, { io: 'input', unrepresentable: 'any' }) as Schema;
}

/** Every boolean and integer param of every verb, nested ones (VM.create's vmParams) included. */
function typedParams(): TypedParam[] {
  const out: TypedParam[] = [];
  const walk = (verb: Verb, root: Schema, schema: Schema, path: string[]) => {
    for (const [key, prop] of Object.entries(schema.properties ?? {})) {
      if (prop.type === 'boolean' || prop.type === 'integer')
        out.push({ verb, root, path: [...path, key], schema: prop, kind: prop.type });
      if (prop.type === 'object') walk(verb, root, prop, [...path, key]);
    }
  };
  for (const verb of VERBS) {
    const root = inputSchema(verb);
    walk(verb, root, root, []);
  }
  return out;
}

/** An integer the param's bounds allow. */
function allowedInt(s: Schema): number {
  const lo = s.minimum ?? (s.exclusiveMinimum === undefined ? -Infinity : s.exclusiveMinimum + 1);
  const hi = s.maximum ?? (s.exclusiveMaximum === undefined ? Infinity : s.exclusiveMaximum - 1);
  return [7, lo, hi].find((n) => Number.isFinite(n) && n >= lo && n <= hi)!;
}

/** A value the schema accepts, for the required params around the one under test. */
function sample(s: Schema): unknown {
  if (s.enum) return s.enum[0];
  if (s.type === 'boolean') return true;
  if (s.type === 'integer') return allowedInt(s);
  if (s.type === 'array') return [];
  if (s.type === 'object') return Object.fromEntries((s.required ?? []).map((k) => [k, sample(s.properties![k]!)]));
  return 'x'.repeat(Math.max(1, s.minLength ?? 1));
}

/** The verb's required params, with `value` at `path`. */
function paramsWith(p: TypedParam, value: unknown): Record<string, unknown> {
  const params = sample(p.root) as Record<string, unknown>;
  let at = params;
  for (const key of p.path.slice(0, -1)) at = (at[key] ??= {}) as Record<string, unknown>;
  at[p.path.at(-1)!] = value;
  return params;
}

/** The real dispatcher and validation; each handler only records the params it was given. */
function setup() {
  const { log } = captureLog();
  const dispatcher = new JsonRpcDispatcher({ log });
  let seen: Record<string, unknown> | undefined;
  for (const verb of VERBS) {
    const record = (params: Record<string, unknown>) => ((seen = params), true);
    dispatcher.register(
      verb.name,
      bindVerb({ ...verb, handler: record } as Verb, { ha: HA_NOT_CONFIGURED, log, hostStats: new HostStatsSampler() }),
    );
  }
  return async (p: TypedParam, value: unknown) => {
    seen = undefined;
    const reply = await dispatcher.handle(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: p.verb.name, params: paramsWith(p, value) }),
    );
    const { error } = JSON.parse(reply!) as { error?: { code: number; message: string } };
    const given = p.path.reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], seen);
    return { error, given };
  };
}

const TYPED = typedParams();
const label = (p: TypedParam) => `${p.verb.name} ${p.path.join('.')}`;
const booleans = TYPED.filter((p) => p.kind === 'boolean').map((p) => [label(p), p] as const);
const integers = TYPED.filter((p) => p.kind === 'integer').map((p) => [label(p), p] as const);
const call = setup();

describe('boolean and integer params take the strings vdsm-client sends', () => {
  it('finds them in the catalogue', () => {
    expect(TYPED.map(label)).toEqual(
      expect.arrayContaining([
        'Host.getVMList fullStatus',
        'Host.getVMList onlyUUID',
        'Host.setHaMaintenanceMode enabled',
        'VM.create vmParams.memSize',
        'VM.create vmParams.smp',
        'VM.create vmParams.acpiEnable',
        'VM.create vmParams.kvmEnable',
        'VM.create vmParams.launchPaused',
        'VM.destroy gracefulAttempts',
        'VM.shutdown delay',
        'VM.shutdown reboot',
        'VM.shutdown timeout',
        'VM.shutdown force',
      ]),
    );
  });

  it.each(booleans)('%s: true, false and their string forms ("false" is false)', async (_name, p) => {
    const forms: [unknown, boolean][] = [
      [true, true],
      [false, false],
      ['true', true],
      ['false', false],
      ['TRUE', true],
      ['False', false],
      ['1', true],
      ['0', false],
    ];
    for (const [value, expected] of forms)
      expect(await call(p, value), JSON.stringify(value)).toEqual({ error: undefined, given: expected });
  });

  it.each(integers)('%s: JSON integers and decimal strings', async (_name, p) => {
    const n = allowedInt(p.schema);
    for (const value of [n, String(n)])
      expect(await call(p, value), JSON.stringify(value)).toEqual({ error: undefined, given: n });
  });

  const rejects = ['yes', '1.5', '', '0x10', ' 1'];
  it.each([...booleans, ...integers])('%s: anything else is -32602 naming the param', async (_name, p) => {
    const more = p.kind === 'boolean' ? ['on', '2', 1, null] : ['1e3', '+1', '1 ', '9007199254740993', 1.5, true];
    for (const value of [...rejects, ...more]) {
      const { error, given } = await call(p, value);
      expect(error, JSON.stringify(value)).toMatchObject({
        code: -32602,
        message: expect.stringContaining(`${p.path.join('.')}: expected`),
      });
      expect(given).toBeUndefined();
    }
  });
});
