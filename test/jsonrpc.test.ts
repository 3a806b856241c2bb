import { describe, expect, it } from 'vitest';
import { VdsmError } from '../src/common/errors.js';
import { HA_NOT_CONFIGURED, type HaStatusProvider } from '../src/common/ha-status.js';
import { HostStatsSampler } from '../src/host/stats.js';
import { type CallContext, JsonRpcDispatcher } from '../src/rpc/jsonrpc.js';
import { bindVerb } from '../src/verbs/bind.js';
import { VERBS } from '../src/verbs/catalogue.js';
import { LibvirtError } from '../src/virt/hypervisor.js';
import { captureLog } from './support/capture-log.js';

function setup(options: { ready?: boolean; level?: string; ha?: HaStatusProvider } = {}) {
  const cap = captureLog(options.level);
  const d = new JsonRpcDispatcher({ log: cap.log, isReady: () => options.ready ?? true });
  for (const verb of VERBS)
    d.register(
      verb.name,
      bindVerb(verb, { ha: options.ha ?? HA_NOT_CONFIGURED, log: cap.log, hostStats: new HostStatsSampler() }),
    );
  const call = async (msg: unknown, ctx: CallContext = {}) => {
    const out = await d.handle(typeof msg === 'string' ? msg : JSON.stringify(msg), ctx);
    return out === null ? null : JSON.parse(out);
  };
  return { d, call, ...cap };
}

const req = (id: unknown, method: string, params?: unknown) => ({
  jsonrpc: '2.0',
  id,
  method,
  ...(params === undefined ? {} : { params }),
});

describe('JSON-RPC binding', () => {
  it('answers Host.ping2 with true for named, positional and missing params', async () => {
    const { call } = setup();
    expect(await call(req('a', 'Host.ping2', {}))).toEqual({ jsonrpc: '2.0', id: 'a', result: true });
    expect(await call(req(7, 'Host.ping2', []))).toEqual({ jsonrpc: '2.0', id: 7, result: true });
    expect(await call(req('c', 'Host.ping2'))).toEqual({ jsonrpc: '2.0', id: 'c', result: true });
  });

  it("answers an unknown verb with -32601 and vdsm's text, keeping the id", async () => {
    const { call } = setup();
    expect(await call(req('u1', 'Host.fly', {}))).toEqual({
      jsonrpc: '2.0',
      id: 'u1',
      error: { code: -32601, message: "The method does not exist or is not available: {'method': 'Host.fly'}" },
    });
  });

  it('answers envelope errors with -32600 and the id whenever the id was usable', async () => {
    const { call } = setup();
    expect((await call({ jsonrpc: '1.0', id: 'v', method: 'Host.ping2' })).error).toEqual({
      code: -32600,
      message: 'Wrong protocol version',
    });
    expect((await call({ jsonrpc: '1.0', id: 'v', method: 'Host.ping2' })).id).toBe('v');
    expect(await call({ jsonrpc: '2.0', id: 'm', method: 5 })).toMatchObject({ id: 'm', error: { code: -32600 } });
    expect(await call({ jsonrpc: '2.0', id: 'p', method: 'Host.ping2', params: 'x' })).toMatchObject({
      id: 'p',
      error: { code: -32600 },
    });
    expect(await call({ jsonrpc: '2.0', id: { x: 1 }, method: 'Host.ping2' })).toMatchObject({
      id: null,
      error: { code: -32600 },
    });
    expect(await call('42')).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it('answers invalid JSON with -32700 and an empty batch with -32600, both with id null', async () => {
    const { call } = setup();
    expect(await call('{"jsonrpc": "2.0", "id": ')).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'Parse error' },
    });
    expect(await call('[]')).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Empty batch' } });
  });

  it('never sends an error without an id where the engine reads (its client fails on them): logs it instead', async () => {
    const { call, lines } = setup();
    const engine = { engineReadsReply: true };
    expect(await call('{"jsonrpc": "2.0", "id": ', engine)).toBeNull();
    expect(await call('[]', engine)).toBeNull();
    expect(await call(req({ x: 1 }, 'Host.ping2'), engine)).toBeNull();
    // In a batch only the id-less errors go; the answers the engine can match stay.
    expect(await call([42, req('p', 'Host.ping2')], engine)).toEqual([{ jsonrpc: '2.0', id: 'p', result: true }]);
    expect(await call([42], engine)).toBeNull();
    const dropped = lines().filter((l) => l.msg === 'rpc error without an id not sent to the engine');
    expect(dropped.map((l) => l.code)).toEqual([-32700, -32600, -32600, -32600, -32600]);
  });

  it('validates params by the verb schema: wrong types get -32602 naming each field', async () => {
    const { call } = setup();
    const r = await call(req('t', 'Host.setHaMaintenanceMode', { mode: 1, enabled: 'yes' }));
    expect(r.id).toBe('t');
    expect(r.error.code).toBe(-32602);
    expect(r.error.message).toMatch(/mode/);
    expect(r.error.message).toMatch(/enabled/);
    expect((await call(req('x', 'Host.ping2', [1, 2]))).error.code).toBe(-32602);
  });

  it('maps positional params in schema order and tolerates (and logs) unknown params', async () => {
    const { call, lines } = setup();
    expect(await call(req('pos', 'Host.setHaMaintenanceMode', ['global', true]))).toMatchObject({
      id: 'pos',
      error: { code: 40 },
    });
    expect(await call(req('unk', 'Host.ping2', { bogus: 1 }))).toMatchObject({ id: 'unk', result: true });
    expect(lines().some((l) => l.msg === 'ignoring unknown params' && JSON.stringify(l.unknown) === '["bogus"]')).toBe(
      true,
    );
  });

  it('answers an unknown HA mode with 61 and an HA failure with its code', async () => {
    const { call } = setup();
    expect((await call(req('m', 'Host.setHaMaintenanceMode', { mode: 'regional', enabled: true }))).error.code).toBe(
      61,
    );
    let seen: unknown[] = [];
    const ha: HaStatusProvider = { ...HA_NOT_CONFIGURED, setMaintenance: async (...args) => void (seen = args) };
    expect(await setup({ ha }).call(req('ok', 'Host.setHaMaintenanceMode', { mode: 'local', enabled: false }))).toEqual(
      {
        jsonrpc: '2.0',
        id: 'ok',
        result: { code: 0, message: 'Done' },
      },
    );
    expect(seen).toEqual(['LOCAL', false]);
  });

  it('answers every element of a 100-element batch, in an array, ids matched', async () => {
    const { call } = setup();
    const batch = Array.from({ length: 100 }, (_, i) =>
      i % 10 === 9 ? req(`b${i}`, 'Host.nope', {}) : req(`b${i}`, 'Host.ping2', {}),
    );
    const out = await call(batch);
    expect(out).toHaveLength(100);
    for (let i = 0; i < 100; i++) {
      expect(out[i].id).toBe(`b${i}`);
      if (i % 10 === 9) expect(out[i].error.code).toBe(-32601);
      else expect(out[i].result).toBe(true);
    }
    expect(await call([req('one', 'Host.ping2', {})])).toEqual([{ jsonrpc: '2.0', id: 'one', result: true }]);
    expect(await call([5, req('ok', 'Host.ping2', {})])).toEqual([
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid request: not an object' } },
      { jsonrpc: '2.0', id: 'ok', result: true },
    ]);
  });

  it('runs notifications and never answers them, alone or in a batch', async () => {
    let calls = 0;
    const ha: HaStatusProvider = { ...HA_NOT_CONFIGURED, setMaintenance: async () => void calls++ };
    const { call } = setup({ ha });
    expect(
      await call({ jsonrpc: '2.0', method: 'Host.setHaMaintenanceMode', params: { mode: 'GLOBAL', enabled: true } }),
    ).toBeNull();
    expect(await call({ jsonrpc: '2.0', method: 'Host.unknown' })).toBeNull();
    expect(await call([{ jsonrpc: '2.0', method: 'Host.ping2' }, req('n', 'Host.ping2', {})])).toEqual([
      { jsonrpc: '2.0', id: 'n', result: true },
    ]);
    expect(await call([{ jsonrpc: '2.0', method: 'Host.ping2' }])).toBeNull();
    expect(calls).toBe(1);
  });

  it('answers 99 to every call while not ready', async () => {
    const { call } = setup({ ready: false });
    expect(await call(req('r', 'Host.ping2', {}))).toEqual({
      jsonrpc: '2.0',
      id: 'r',
      error: { code: 99, message: 'Recovering from crash or Initializing' },
    });
  });

  it('turns an unexpected exception into -32603 and keeps serving', async () => {
    const { d, call, lines } = setup();
    d.register('Host.broken', () => {
      throw new TypeError('boom');
    });
    expect(await call(req('e', 'Host.broken', {}))).toEqual({
      jsonrpc: '2.0',
      id: 'e',
      error: { code: -32603, message: 'Internal JSON-RPC error' },
    });
    expect(lines().find((l) => l.msg === 'verb failed unexpectedly')).toMatchObject({
      method: 'Host.broken',
      err: { type: 'TypeError', message: 'boom' },
    });
    expect((await call(req('after', 'Host.ping2', {}))).result).toBe(true);
  });

  it('sends a code only for a VdsmError: a libvirt error number or an exit status is an internal error, logged here', async () => {
    const { d, call, lines } = setup();
    const thrown: Record<string, () => unknown> = {
      'Host.libvirt': () => Promise.reject(new LibvirtError('Domain not found: no domain with matching uuid', 42, 10)),
      'Host.coded': () => {
        throw Object.assign(new Error('x'), { code: 55 });
      },
      'Host.exitStatus': () => Promise.reject({ code: 2, message: 'child exited with status 2' }),
    };
    for (const [method, fail] of Object.entries(thrown)) {
      d.register(method, fail);
      expect(await call(req(method, method, {})), method).toEqual({
        jsonrpc: '2.0',
        id: method,
        error: { code: -32603, message: 'Internal JSON-RPC error' },
      });
    }
    const logged = lines().filter((l) => l.msg === 'verb failed unexpectedly');
    expect(logged.map((l) => [l.method, (l.err as { message: string }).message])).toEqual([
      ['Host.libvirt', 'Domain not found: no domain with matching uuid'],
      ['Host.coded', 'x'],
      ['Host.exitStatus', 'child exited with status 2'],
    ]);
    d.register('Host.vdsm', () => Promise.reject(VdsmError.of('noVM', { vmId: 'v1' })));
    expect((await call(req('v', 'Host.vdsm', {}))).error).toEqual({
      code: 1,
      message: "Virtual machine does not exist: {'vmId': 'v1'}",
    });
  });

  it('logs one line per request with method, duration and code, and never a password', async () => {
    const { call, lines, text } = setup({ level: 'debug' });
    await call(req('l1', 'Host.ping2', {}));
    await call(req('l2', 'Host.nothing', { password: 's3cr3t-pw', nested: { _X_token: 'tok-3', passwd: 'pw-2' } }));
    const rpc = lines().filter((l) => l.msg === 'rpc');
    expect(rpc).toHaveLength(2);
    expect(rpc[0]).toMatchObject({ method: 'Host.ping2', id: 'l1', code: 0 });
    expect(typeof rpc[0]!.ms).toBe('number');
    expect(rpc[1]).toMatchObject({ method: 'Host.nothing', code: -32601 });
    expect(text()).toContain('rpc params');
    for (const secret of ['s3cr3t-pw', 'tok-3', 'pw-2']) expect(text()).not.toContain(secret);
  });
});
