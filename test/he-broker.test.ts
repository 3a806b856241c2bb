/** The HA broker in-process: its method catalogue, the typed client, and one error code per kind of refusal. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSONRPCServer } from 'json-rpc-2.0';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BROKER_METHODS } from '../src/hosted-engine/broker/catalogue.js';
import { brokerClient } from '../src/hosted-engine/broker/client.js';
import { toBrokerError } from '../src/hosted-engine/broker/dispatch.js';
import { renderBrokerDoc } from '../src/hosted-engine/broker/docs.js';
import { BROKER_ERRORS, BrokerError, type BrokerErrorName, isBrokerError } from '../src/hosted-engine/broker/errors.js';
import { serveLines } from '../src/hosted-engine/broker/rpc.js';
import type { BrokerStatus } from '../src/hosted-engine/broker/schemas.js';
import { startBroker } from '../src/hosted-engine/broker/server.js';
import { confFrom } from '../src/hosted-engine/conf.js';
import { SanlockError, type SanlockRun } from '../src/storage/sanlock-run.js';
import { FileWhiteboard, SLOT_BYTES, WhiteboardReadBackError } from '../src/hosted-engine/whiteboard.js';
import { captureLog } from './support/capture-log.js';
import { hostBlock } from './support/he-block.js';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface TestBroker {
  dir: string;
  socket: string;
  broker: ReturnType<typeof brokerClient>;
  log: ReturnType<typeof captureLog>;
}

/** A broker on host 1 with no vdsmd (every call fails) and no network test, on files in a fresh directory. */
async function startTestBroker(
  opts: { lock?: 'file' | 'sanlock'; sanlockRun?: SanlockRun; metadata?: string } = {},
): Promise<TestBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'he-broker-'));
  dirs.push(dir);
  const socket = join(dir, 'broker.sock');
  const conf = confFrom(
    new Map([
      ['host_id', '1'],
      ['vmid', '11111111-2222-3333-4444-555555555555'],
      ['vm_xml', join(dir, 'engine.xml')],
      ['metadata', opts.metadata ?? join(dir, 'metadata')],
      ['lockspace', join(dir, 'lockspace')],
      ['lock', opts.lock ?? 'file'],
      ['network_test', 'none'],
      ['health_url', 'http://127.0.0.1:9/'],
      ['broker_socket', socket],
      ['state_dir', join(dir, 'state')],
      ['monitor_interval', '60'],
    ]),
  );
  const log = captureLog();
  const vdsm = async () => Promise.reject(Object.assign(new Error('no vdsmd here'), { code: 1 }));
  const service = await startBroker(conf, { vdsm, log: log.log, sanlockRun: opts.sanlockRun });
  closers.push(() => service.close());
  return { dir, socket, broker: brokerClient(socket), log };
}

/** One raw line to the broker's socket and its one-line answer. */
async function rawExchange(socket: string, line: string): Promise<{ error?: { code: number; message: string } }> {
  const c = net.connect(socket);
  c.setEncoding('utf8');
  let got = '';
  try {
    return await new Promise((resolve, reject) => {
      c.on('error', reject);
      c.on('data', (chunk: string) => {
        got += chunk;
        const nl = got.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(got.slice(0, nl)));
      });
      c.write(`${line}\n`);
    });
  } finally {
    c.destroy();
  }
}

/** The error a call rejects with, checked to be the broker's answer of that kind. */
async function refusal(call: Promise<unknown>, name: BrokerErrorName): Promise<BrokerError> {
  const err = await call.then(
    () => expect.unreachable(`resolved; expected ${name}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrokerError);
  expect({ name, code: (err as BrokerError).code }).toEqual({ name, code: BROKER_ERRORS[name].code });
  expect(isBrokerError(err, name)).toBe(true);
  return err as BrokerError;
}

const block = hostBlock;

/** sanlock as the broker asks it: host 2 in the state given, the engine VM lease free unless reading it fails. */
function fakeSanlock(opts: { host2?: string; readLeader?: 'free' | 'fails' }): SanlockRun {
  return async (args) => {
    const [kind, verb] = args;
    if (kind === 'client' && verb === 'gets')
      return args.includes('-h') && opts.host2 ? `h 2 gen 1 timestamp 100 ${opts.host2}\n` : '';
    if (kind === 'direct' && verb === 'read_leader') {
      if (opts.readLeader === 'fails') throw new SanlockError('sanlock direct read_leader: read_leader error -5');
      return 'owner_id 0\ntimestamp 0\n';
    }
    if (kind === 'client' && verb === 'add_lockspace') return '';
    throw new SanlockError(`unexpected sanlock ${args.join(' ')}`);
  };
}

describe('broker catalogue', () => {
  it('docs/hosted-engine.md lists every method as the catalogue generates it (run `npm run docs` after changing one)', () => {
    const doc = readFileSync(new URL('../docs/hosted-engine.md', import.meta.url), 'utf8');
    const section = renderBrokerDoc(BROKER_METHODS);
    expect(doc).toContain(section);
    for (const name of Object.keys(BROKER_METHODS)) expect(section).toContain(`- \`${name}\` `);
    for (const { code } of Object.values(BROKER_ERRORS)) expect(section).toContain(`- ${code} `);
  });

  it('every error code is distinct', () => {
    const codes = Object.values(BROKER_ERRORS).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('the typed client drives the whole lease and whiteboard round trip with the file lock', async () => {
    const { broker } = await startTestBroker();
    expect(await broker.call('putHost', { block: block() }, {})).toBe(true);
    const status: BrokerStatus = await broker.call('status', {});
    expect(status).toMatchObject({
      hostId: 1,
      globalMaintenance: false,
      hosts: [block()],
      alive: null,
      localMaintenance: false,
      lockspace: null,
    });
    expect(status.extras['1']).toContain('state=EngineDown');
    expect(await broker.call('pushAlive', { ids: [1] })).toBe(true);
    expect((await broker.call('status', {})).alive).toEqual([1]);
    expect(await broker.call('leaseXml', {})).toBeNull();
    expect(await broker.call('leaseHolder', {})).toBeNull();
    expect(await broker.call('leaseAcquire', {})).toBe(true);
    expect(await broker.call('leaseHolder', {})).toMatchObject({ hostId: 1 });
    expect(await broker.call('leaseRenew', {})).toBe(true);
    expect(await broker.call('leaseRelease', {})).toBe(true);
    expect(await broker.call('leaseHolder', {})).toBeNull();
    expect(await broker.call('leaseRenew', {})).toBe(false);
    expect(await broker.call('setMaintenance', { mode: 'local_manual', enabled: true })).toBe(true);
    expect(await broker.call('localMaintenance', {})).toBe(true);
    expect(await broker.call('pulse', {})).toMatch(/^(unknown|down)\|false\|1:down$/);
  });

  it("status carries every block the whiteboard decodes, even one this broker would refuse to write (another host's)", async () => {
    const { dir, broker } = await startTestBroker();
    const path = join(dir, 'metadata');
    await new FileWhiteboard(path).writeHost(block({ hostId: 2, state: 'EngineXDown' }));
    // The readable part is outside the checksum: another writer may leave a NUL there.
    const bytes = readFileSync(path);
    bytes.write('\0', bytes.indexOf('EngineXDown', 2 * SLOT_BYTES) + 'Engine'.length, 'latin1');
    writeFileSync(path, bytes);
    expect((await broker.call('status', {})).hosts).toEqual([block({ hostId: 2, state: 'Engine\0Down' })]);
    await refusal(broker.call('putHost', { block: block({ state: 'Engine\0Down' }) }), 'invalidParams');
  });

  it('the client parses every answer: one its result schema does not allow is an error, not a wrong value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'he-broker-'));
    dirs.push(dir);
    const server = new JSONRPCServer();
    server.addMethod('status', () => ({ hostId: 1, hosts: 'none' }));
    server.addMethod('leaseRenew', () => 'yes');
    const listener = await serveLines(server, join(dir, 'broker.sock'));
    closers.push(() => new Promise((r) => listener.close(() => r())));
    const broker = brokerClient(join(dir, 'broker.sock'));
    await expect(broker.call('status', {})).rejects.toThrow(/answer to status does not match its schema: .*hosts/);
    await expect(broker.call('leaseRenew', {})).rejects.toThrow(
      /answer to leaseRenew does not match its schema: \(result\): /,
    );
  });

  it('a broker that is not there: a plain error saying so, within the bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'he-broker-'));
    dirs.push(dir);
    const err = await brokerClient(join(dir, 'nobody.sock'))
      .call('status', {}, { timeoutMs: 2000 })
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(BrokerError);
    expect((err as Error).message).toMatch(/^cannot reach the HA broker at .*nobody\.sock: ENOENT$/);
  });
});

describe('broker error codes: each kind of refusal has its own', () => {
  it('parseError, invalidRequest and unknownMethod, and the broker serves on', async () => {
    const { socket, broker } = await startTestBroker();
    expect((await rawExchange(socket, 'not json')).error?.code).toBe(BROKER_ERRORS.parseError.code);
    expect((await rawExchange(socket, JSON.stringify({ jsonrpc: '2.0', id: 1 }))).error?.code).toBe(
      BROKER_ERRORS.invalidRequest.code,
    );
    expect(
      (await rawExchange(socket, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'teleport', params: {} }))).error
        ?.code,
    ).toBe(BROKER_ERRORS.unknownMethod.code);
    expect((await broker.call('status', {})).hostId).toBe(1);
  });

  it('invalidParams names the field, for a bad value and for a missing one; the broker serves on', async () => {
    const { socket, broker } = await startTestBroker();
    const mode = await refusal(
      broker.call('setMaintenance', { mode: 'sideways', enabled: true } as never),
      'invalidParams',
    );
    expect(mode.message).toMatch(/^Invalid params: mode: /);
    const enabled = await refusal(
      broker.call('setMaintenance', { mode: 'global', enabled: 'yes' } as never),
      'invalidParams',
    );
    expect(enabled.message).toMatch(/^Invalid params: enabled: /);
    const hostId = await refusal(broker.call('putHost', { block: block({ hostId: 'one' as never }) }), 'invalidParams');
    expect(hostId.message).toMatch(/^Invalid params: block\.hostId: /);
    const hostname = await refusal(broker.call('putHost', { block: block({ hostname: 'a|b' }) }), 'invalidParams');
    expect(hostname.message).toMatch(/^Invalid params: block\.hostname: must not contain '\|'/);
    const missing = await refusal(broker.call('clearHost', { hostId: 1 } as never), 'invalidParams');
    expect(missing.message).toMatch(/^Invalid params: force: /);
    // Positional params are not the broker's form: refused as a whole.
    const positional = await rawExchange(
      socket,
      JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'clearHost', params: [1, false] }),
    );
    expect(positional.error).toMatchObject({
      code: BROKER_ERRORS.invalidParams.code,
      message: expect.stringMatching(/^Invalid params: \(params\): /),
    });
    expect(await broker.call('putHost', { block: block() })).toBe(true);
  });

  it("notOwnSlot: a block for another host's slot", async () => {
    const { broker } = await startTestBroker();
    const err = await refusal(broker.call('putHost', { block: block({ hostId: 2 }) }), 'notOwnSlot');
    expect(err.message).toBe('this broker writes slot 1 only, not 2');
  });

  it('uncleanBlock, and leaseHeld before it: --clean-metadata of a running agent, then of the lease holder', async () => {
    const { broker } = await startTestBroker();
    await broker.call('putHost', { block: block({ stopped: false }) });
    expect((await refusal(broker.call('clearHost', { hostId: 1, force: false }), 'uncleanBlock')).message).toBe(
      'Cannot clean unclean metadata block. Consider --force-cleanup.',
    );
    expect(await broker.call('leaseAcquire', {})).toBe(true);
    expect((await refusal(broker.call('clearHost', { hostId: 1, force: false }), 'leaseHeld')).message).toBe(
      'host 1 holds the engine VM lease; it is alive',
    );
    expect(await broker.call('clearHost', { hostId: 1, force: true })).toBe(true);
  });

  it('notInGlobalMaintenance, agentActive and leaseHeld: --reinitialize-lockspace', async () => {
    const { broker } = await startTestBroker();
    await refusal(broker.call('resetLease', { force: false }), 'notInGlobalMaintenance');
    await broker.call('setMaintenance', { mode: 'global', enabled: true });
    await broker.call('putHost', { block: block({ stopped: false }) });
    await refusal(broker.call('resetLease', { force: false }), 'agentActive');
    await broker.call('putHost', { block: block({ stopped: true }) });
    await broker.call('leaseAcquire', {});
    const held = await refusal(broker.call('resetLease', { force: false }), 'leaseHeld');
    expect(held.message).toBe('Lockspace reinitialization cannot be performed while host 1 holds the engine VM lease');
    await broker.call('leaseRelease', {});
    expect(await broker.call('resetLease', { force: false })).toBe(true);
  });

  it('hostAlive: sanlock sees the host LIVE (refused even forced), and a DEAD one is cleaned', async () => {
    const live = await startTestBroker({ lock: 'sanlock', sanlockRun: fakeSanlock({ host2: 'LIVE' }) });
    const err = await refusal(live.broker.call('clearHost', { hostId: 2, force: true }), 'hostAlive');
    expect(err.message).toBe('host 2 is LIVE in the sanlock lockspace; it may still be alive');
    const dead = await startTestBroker({ lock: 'sanlock', sanlockRun: fakeSanlock({ host2: 'DEAD' }) });
    expect(await dead.broker.call('clearHost', { hostId: 2, force: true })).toBe(true);
  });

  it('sanlockFailed: the sanlock command failing', async () => {
    const { broker } = await startTestBroker({ lock: 'sanlock', sanlockRun: fakeSanlock({ readLeader: 'fails' }) });
    expect((await refusal(broker.call('leaseHolder', {}), 'sanlockFailed')).message).toMatch(/read_leader error -5/);
    await refusal(broker.call('leaseAcquire', {}), 'sanlockFailed');
  });

  it('storageIo: the whiteboard gone, or storage that does not keep what was written', async () => {
    const gone = await startTestBroker();
    rmSync(join(gone.dir, 'metadata'));
    expect((await refusal(gone.broker.call('status', {}), 'storageIo')).message).toMatch(/ENOENT/);
    await refusal(gone.broker.call('putHost', { block: block() }), 'storageIo');
    // /dev/null takes every write and reads back empty: global maintenance set there never reads back as set.
    const forgetful = await startTestBroker({ metadata: '/dev/null' });
    const err = await refusal(forgetful.broker.call('setMaintenance', { mode: 'global', enabled: true }), 'storageIo');
    expect(err.message).toMatch(/^global maintenance read back as false after writing true/);
    expect(gone.log.text()).toMatch(/broker method failed/);
  });

  it('internal: whatever is not a refusal, a sanlock or a storage failure', () => {
    expect(toBrokerError(new RangeError('host 1 metadata line too long'))).toMatchObject({
      code: BROKER_ERRORS.internal.code,
      message: 'host 1 metadata line too long',
    });
    expect(toBrokerError(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })).code).toBe(
      BROKER_ERRORS.storageIo.code,
    );
    expect(toBrokerError(new WhiteboardReadBackError('x')).code).toBe(BROKER_ERRORS.storageIo.code);
    expect(toBrokerError(new SanlockError('x')).code).toBe(BROKER_ERRORS.sanlockFailed.code);
    expect(toBrokerError(BrokerError.of('leaseHeld', 'x')).code).toBe(BROKER_ERRORS.leaseHeld.code);
  });
});
