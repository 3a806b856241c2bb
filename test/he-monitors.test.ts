import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect as connectTcp, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVdsmd, type Vdsmd } from '../src/cli/service.js';
import {
  createCpuMonitor,
  engineShareFromStats,
  loadWithoutEngine,
  parseProcStat,
} from '../src/hosted-engine/monitors/cpu.js';
import { startMonitors } from '../src/hosted-engine/monitors/index.js';
import { createNetworkMonitor, dnsProbe, tcpProbe } from '../src/hosted-engine/monitors/network.js';
import { PeriodicMonitor } from '../src/hosted-engine/monitors/periodic.js';
import { createStorageMonitor } from '../src/hosted-engine/monitors/storage.js';
import type { VdsmCall } from '../src/hosted-engine/monitors/types.js';
import {
  checkLiveliness,
  createBridgeMonitor,
  createEngineHealthMonitor,
  createMemFreeMonitor,
  engineHealthFromStats,
  engineHealthNoVm,
  isLockFailure,
  REASON,
} from '../src/hosted-engine/monitors/vdsm.js';
import type { EngineHealth } from '../src/hosted-engine/types.js';
import { VdsmClient } from '../src/rpc/client.js';
import { captureLog } from './support/capture-log.js';
import { testConfig } from './support/config.js';
import { missing } from './support/peers.js';
import { closedPort, closedUdpPort } from './support/ports.js';
import { stopProcess } from './support/processes.js';
import { engineDomainXml } from './support/vm-xml.js';
import { waitFor } from './support/wait.js';

const HAS_PING = ['/usr/bin/ping', '/bin/ping', '/usr/sbin/ping', '/sbin/ping'].some((p) => existsSync(p));

/** Waits until the monitor has completed more than `seen` rounds (default: the next one) and returns its value. */
async function nextRound<T>(m: PeriodicMonitor<T>, timeoutMs = 10_000, seen = m.rounds): Promise<T> {
  await waitFor(`a round of ${m.name}`, () => m.rounds > seen, timeoutMs, 10);
  return m.last();
}

/** The value of a freshly started monitor's first round. */
const firstRound = <T>(m: PeriodicMonitor<T>, timeoutMs = 10_000) => nextRound(m, timeoutMs, 0);

const stoppers: (() => Promise<unknown>)[] = [];
function started<T extends { start(): void; stop(): Promise<void> }>(m: T): T {
  m.start();
  stoppers.push(() => m.stop());
  return m;
}
afterAll(async () => {
  for (const stop of stoppers.reverse()) await stop();
});

// ------------------------------------------------------------------------------------------------
// A minimal DNS server over UDP (RFC 1035 encoding): answers every question with one A record, or NXDOMAIN.

interface DnsServer {
  address: string;
  questions: { name: string; type: number }[];
  close(): Promise<void>;
}

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (i < msg.length && msg[i] !== 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += 1 + len;
  }
  return { name: labels.join('.'), end: i + 1 };
}

async function startDns(mode: 'answer' | 'nxdomain' | 'silent', ip = '192.0.2.53'): Promise<DnsServer> {
  const socket = createSocket('udp4');
  const questions: DnsServer['questions'] = [];
  socket.on('message', (msg, peer) => {
    if (msg.length < 12) return;
    const { name, end } = readName(msg, 12);
    questions.push({ name, type: msg.readUInt16BE(end) });
    if (mode === 'silent') return;
    const question = msg.subarray(12, end + 4);
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    const rd = msg.readUInt16BE(2) & 0x0100;
    header.writeUInt16BE(0x8000 | rd | 0x0080 | (mode === 'nxdomain' ? 3 : 0), 2);
    header.writeUInt16BE(1, 4); // QDCOUNT
    header.writeUInt16BE(mode === 'answer' ? 1 : 0, 6); // ANCOUNT
    const parts = [header, question];
    if (mode === 'answer') {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // the question's name
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(60, 6); // TTL
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((o, k) => rr.writeUInt8(Number(o), 12 + k));
      parts.push(rr);
    }
    socket.send(Buffer.concat(parts), peer.port, peer.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    questions,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

/**
 * A TCP listener (backlog 1) in a process whose event loop is blocked, so it never accepts: two connections fill
 * its accept queue, after which the kernel drops SYNs. It exits by itself after 60 s.
 */
async function silentTcpPeer(): Promise<{ port: number; child: ChildProcess }> {
  const code = `require('node:net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () {
    process.stdout.write(this.address().port + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000));
  });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await waitFor("the silent peer's port", () => /^\d+\n/.test(out) && Number(out), 10_000, 50);
  return { port, child };
}

// ------------------------------------------------------------------------------------------------

describe('network monitor', () => {
  let listener: TcpServer;
  let listenPort: number;

  beforeAll(async () => {
    listener = createTcpServer((s) => s.destroy());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    listenPort = (listener.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => listener.close(() => r()));
  });

  it.skipIf(missing('ping (Debian iputils-ping)', !HAS_PING))(
    'ping of 127.0.0.1: null before the first round, then 5 of 5 (1)',
    async () => {
      const m = createNetworkMonitor({ test: 'ping', target: '127.0.0.1', intervalMs: 60_000 });
      expect(m.last()).toBeNull();
      started(m);
      const t0 = performance.now();
      expect(await firstRound(m, 15_000)).toBe(1);
      // 5 probes, 4 pauses of 0.5 s.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1900);
      await m.stop();
    },
  );

  it('tcp: a listening port gives 1, a closed one 0', async () => {
    const up = started(
      createNetworkMonitor({
        test: 'tcp',
        target: '127.0.0.1',
        tcpPort: listenPort,
        intervalMs: 60_000,
        probeDelayMs: 20,
      }),
    );
    const down = started(
      createNetworkMonitor({
        test: 'tcp',
        target: '127.0.0.1',
        tcpPort: await closedPort(),
        intervalMs: 60_000,
        probeDelayMs: 20,
      }),
    );
    expect(await firstRound(up)).toBe(1);
    expect(await firstRound(down)).toBe(0);
    await Promise.all([up.stop(), down.stop()]);
  });

  it('tcp without a port is refused at creation', () => {
    expect(() => createNetworkMonitor({ test: 'tcp', target: '127.0.0.1', intervalMs: 1000 })).toThrow(/tcpPort/);
  });

  it('dns: a server answering an A record gives 1; the query is for the configured name, type A', async () => {
    const dns = await startDns('answer');
    try {
      const m = started(
        createNetworkMonitor({
          test: 'dns',
          target: dns.address,
          dnsName: 'engine.he.test',
          intervalMs: 60_000,
          probeDelayMs: 20,
        }),
      );
      expect(await firstRound(m)).toBe(1);
      await m.stop();
      expect(dns.questions.length).toBeGreaterThanOrEqual(5);
      expect(dns.questions[0]).toEqual({ name: 'engine.he.test', type: 1 });
      // Default name: the root, as dig without arguments.
      expect(await dnsProbe(dns.address, '.', 2000)).toBe(true);
      expect(dns.questions.at(-1)).toEqual({ name: '', type: 1 });
    } finally {
      await dns.close();
    }
  });

  it('dns: an NXDOMAIN answer still proves the server reachable (as dig exits 0)', async () => {
    const dns = await startDns('nxdomain');
    try {
      expect(await dnsProbe(dns.address, 'nothing.he.test', 2000)).toBe(true);
    } finally {
      await dns.close();
    }
  });

  it('dns: a closed UDP port gives 0', async () => {
    const port = await closedUdpPort();
    const m = started(
      createNetworkMonitor({
        test: 'dns',
        target: `127.0.0.1:${port}`,
        intervalMs: 60_000,
        probeDelayMs: 20,
        probeTimeoutMs: 1000,
      }),
    );
    expect(await firstRound(m)).toBe(0);
    await m.stop();
  });

  it('dns: a server that never answers is given up on after the configured probe bound, asked once per probe', async () => {
    const dns = await startDns('silent');
    try {
      const m = started(
        createNetworkMonitor({
          test: 'dns',
          target: dns.address,
          intervalMs: 60_000,
          probes: 2,
          probeDelayMs: 20,
          probeTimeoutMs: 300,
        }),
      );
      // Two probes bounded by the default (5 s each) could not end within 4.5 s: the configured 300 ms was used.
      expect(await firstRound(m, 4500)).toBe(0);
      expect(dns.questions).toHaveLength(2);
      await m.stop();
    } finally {
      await dns.close();
    }
  });

  it('none always gives 1', async () => {
    const m = started(createNetworkMonitor({ test: 'none', target: '', intervalMs: 60_000 }));
    expect(await firstRound(m)).toBe(1);
    await m.stop();
  });

  it('stop() aborts a round in flight; the value stays null', async () => {
    const dns = await startDns('silent');
    try {
      const m = started(
        createNetworkMonitor({ test: 'dns', target: dns.address, intervalMs: 60_000, probeTimeoutMs: 30_000 }),
      );
      await waitFor('the first query', () => dns.questions.length > 0, 10_000, 50);
      await m.stop();
      // The round (5 probes of up to 30 s) has ended when stop() returns, past which stop() waits 2 s at most:
      // it was aborted, not waited out.
      expect(m.rounds).toBe(1);
      expect(dns.questions).toHaveLength(1);
      expect(m.last()).toBeNull();
    } finally {
      await dns.close();
    }
  });

  it('tcpProbe against a peer that drops its SYNs gives false after its bound, well before TCP would give up', async () => {
    const peer = await silentTcpPeer();
    try {
      // With the listener's accept queue full the kernel drops new SYNs: a connect then waits for minutes.
      const fillers = Array.from({ length: 4 }, () =>
        connectTcp({ host: '127.0.0.1', port: peer.port }).on('error', () => {}),
      );
      await waitFor('a filler connection to be queued', () => fillers.some((f) => !f.pending), 10_000, 50);
      const probe = tcpProbe('127.0.0.1', peer.port, 300);
      const outcome = await Promise.race([
        probe,
        new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000).unref()),
      ]);
      expect(outcome).toBe(false);
      // The peer was silent all along: a connection started before the probe is still waiting for its SYN-ACK.
      expect(fillers.some((f) => f.pending)).toBe(true);
      for (const f of fillers) f.destroy();
    } finally {
      await stopProcess(peer.child, 2000);
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe('storage monitor', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'he-monitors-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a readable file is ok; a missing one is not', async () => {
    const file = join(dir, 'hosted-engine.metadata');
    writeFileSync(file, Buffer.alloc(8192));
    const ok = started(createStorageMonitor({ path: file, intervalMs: 60_000 }));
    const missing = started(createStorageMonitor({ path: join(dir, 'nope'), intervalMs: 60_000 }));
    expect(ok.last()).toBeNull();
    expect(await firstRound(ok)).toBe(true);
    expect(await firstRound(missing)).toBe(false);
    await Promise.all([ok.stop(), missing.stop()]);
  });

  it('a read that hangs (a FIFO without writer) is false within the bound, and no second read piles up', async () => {
    const fifo = join(dir, 'hung');
    execFileSync('mkfifo', [fifo]);
    const m = started(createStorageMonitor({ path: fifo, intervalMs: 50, timeoutMs: 300 }));
    // Without the bound the first round would never end: the open blocks until a writer comes.
    expect(await firstRound(m, 3000)).toBe(false);
    expect(m.hung).toBe(true);
    // Later rounds answer false at once without opening the FIFO again.
    expect(await nextRound(m, 3000)).toBe(false);
    // Release the blocked reader: a writer opens and closes the FIFO (EOF).
    const writer = await open(fifo, 'w');
    await writer.close();
    await waitFor('the hung read to end', () => !m.hung, 3000, 50);
    await m.stop();
  });
});

// ------------------------------------------------------------------------------------------------

describe('cpu arithmetic', () => {
  it('parses /proc/stat: busy is user+nice+system, total user..steal, CPUs counted', () => {
    const t = parseProcStat(
      'cpu  100 5 50 800 10 1 2 3 40 0\ncpu0 50 2 25 400 5 0 1 1 20 0\ncpu1 50 3 25 400 5 1 1 2 20 0\nintr 1 2\n',
    );
    expect(t).toEqual({ busy: 155, total: 971, ncpu: 2 });
  });

  it('subtracts the engine share and clamps to 0..1', () => {
    const a = { busy: 0, total: 0, ncpu: 4 };
    expect(loadWithoutEngine(a, { busy: 50, total: 100, ncpu: 4 }, 0.1)).toBeCloseTo(0.4);
    expect(loadWithoutEngine(a, { busy: 10, total: 100, ncpu: 4 }, 0.5)).toBe(0);
    expect(loadWithoutEngine(a, { busy: 0, total: 0, ncpu: 4 }, 0)).toBeNull();
  });

  it('the engine share is (cpuUser+cpuSys)/ncpu/100, and nothing while cpuActual is false', () => {
    expect(engineShareFromStats({ cpuUser: '150.00', cpuSys: '50.00', cpuActual: true }, 4)).toBeCloseTo(0.5);
    expect(engineShareFromStats({ cpuUser: '150.00', cpuSys: '50.00', cpuActual: false }, 4)).toBe(0);
    expect(engineShareFromStats({ status: 'Down', exitReason: 6 }, 4)).toBe(0);
  });
});

describe('engine-health decision table (docs/hosted-engine.md, "The monitors")', () => {
  const down = { status: 'Down', exitCode: 1, exitReason: 1 };
  it('lock failures of every form: down, "Storage of VM is locked…"', () => {
    for (const msg of [
      'internal error: Failed to acquire lock: error -243',
      'resource busy: Failed to acquire lock: Lease is held by another host',
      'resource busy: Failed to acquire lock: error -202',
      'internal error: process exited while connecting to monitor: Failed to get "write" lock\nIs another process using the image?',
      'qemu-kvm: Failed to get "write" lock Is another process using the image [/rhev/data-center/mnt/x/images/a/b]?',
    ]) {
      expect(isLockFailure(msg), msg).toBe(true);
      expect(engineHealthFromStats('up', { ...down, exitMessage: msg })).toEqual({
        vm: 'down',
        health: 'bad',
        detail: 'Down',
        reason: REASON.locked,
      });
    }
    expect(isLockFailure('VM terminated with error')).toBe(false);
  });

  it('migrated away: down; other Down or Migration Destination: down_unexpected unless already down', () => {
    expect(engineHealthFromStats('up', { status: 'Down', exitReason: 4, exitMessage: 'Migration succeeded' })).toEqual({
      vm: 'down',
      health: 'bad',
      detail: 'Down',
      reason: REASON.migrated,
    });
    expect(engineHealthFromStats('up', down)).toMatchObject({ vm: 'down_unexpected', reason: REASON.badStatus });
    expect(engineHealthFromStats('down', down)).toMatchObject({ vm: 'down', reason: REASON.badStatus });
    expect(engineHealthFromStats('down_missing', { status: 'Migration Destination' })).toMatchObject({
      vm: 'down_unexpected',
      detail: 'Migration Destination',
    });
    expect(engineHealthFromStats('down', { status: 'Migration Destination' })).toMatchObject({ vm: 'down' });
  });

  it('Paused, WaitForLaunch, Restoring state, Powering up: up but bad; the rest goes to the health page', () => {
    for (const status of ['Paused', 'WaitForLaunch', 'Restoring state', 'Powering up']) {
      expect(engineHealthFromStats('down', { status })).toEqual({
        vm: 'up',
        health: 'bad',
        detail: status,
        reason: REASON.badStatus,
      });
    }
    for (const status of ['Up', 'Powering down', 'Migration Source', 'RebootInProgress', 'Saving State']) {
      expect(engineHealthFromStats('down', { status })).toBe('check-liveliness');
    }
  });

  it('NoSuchVM keeps the previous state except up, which becomes down_missing', () => {
    expect(engineHealthNoVm('up')).toEqual({
      vm: 'down_missing',
      health: 'bad',
      detail: 'unknown',
      reason: REASON.noVm,
    });
    expect(engineHealthNoVm('down')).toMatchObject({ vm: 'down' });
    expect(engineHealthNoVm('down_unexpected')).toMatchObject({ vm: 'down_unexpected' });
  });
});

describe("vdsm monitors read vdsmd's answers through the verbs' result schemas", () => {
  const answering =
    (answers: Record<string, unknown>): VdsmCall =>
    async (method) =>
      answers[method];
  const nic = (state: string) => ({
    name: 'ovirtmgmt',
    state,
    speed: '1000',
    duplex: 'full',
    rx: '1',
    tx: '2',
    rxErrors: '0',
    txErrors: '0',
    rxDropped: '0',
    txDropped: '0',
    sampleTime: 1700000000.5,
  });
  const vmEntry = (over: Record<string, unknown>) => ({ vmId: 'vm', statusTime: '12', ...over });

  it('mgmt-bridge: up, down or absent from a valid answer; null (counted as down) for one Host.getStats does not allow', async () => {
    const bridge = async (answer: unknown) =>
      firstRound(
        started(
          createBridgeMonitor({
            vdsm: answering({ 'Host.getStats': answer }),
            bridge: 'ovirtmgmt',
            intervalMs: 60_000,
          }),
        ),
      );
    expect(await bridge({ network: { ovirtmgmt: nic('up') } })).toBe(true);
    expect(await bridge({ network: { ovirtmgmt: nic('down') } })).toBe(false);
    expect(await bridge({ network: { eth0: { ...nic('up'), name: 'eth0' } } })).toBe(false);
    expect(await bridge({ network: { ovirtmgmt: { state: 'up' } } })).toBeNull();
    expect(await bridge({ network: 'ovirtmgmt' })).toBeNull();
    expect(await bridge('stats')).toBeNull();
  });

  it('mem-free: the number vdsmd reports; null for one Host.getStats does not allow', async () => {
    const memFree = async (answer: unknown) =>
      firstRound(started(createMemFreeMonitor({ vdsm: answering({ 'Host.getStats': answer }), intervalMs: 60_000 })));
    expect(await memFree({ memFree: 2048 })).toBe(2048);
    expect(await memFree({ memFree: '2048' })).toBeNull();
    expect(await memFree({ memFree: -1 })).toBeNull();
    expect(await memFree({})).toBeNull();
  });

  it('engine-health: an entry VM.getStats does not allow is an RPC failure (unknown), not a verdict', async () => {
    const engine = async (answer: unknown) =>
      firstRound(
        started(
          createEngineHealthMonitor({
            vdsm: answering({ 'VM.getStats': answer }),
            vmId: 'vm',
            healthUrl: 'http://127.0.0.1:9/',
            intervalMs: 60_000,
          }),
        ),
      );
    expect(await engine([vmEntry({ status: 'Paused' })])).toEqual({
      vm: 'up',
      health: 'bad',
      detail: 'Paused',
      reason: REASON.badStatus,
    });
    const unknown = { vm: 'unknown', health: 'unknown', detail: 'unknown', reason: REASON.rpcFailed };
    expect(await engine([{ status: 'Paused' }])).toEqual(unknown);
    expect(await engine([vmEntry({ status: 'Down', exitReason: '4' })])).toEqual(unknown);
    expect(await engine([vmEntry({ status: 'Paused' }), vmEntry({ status: 'Up' })])).toEqual(unknown);
    expect(await engine({ status: 'Paused' })).toEqual(unknown);
  });

  it('cpu-load-no-engine: the engine share from a valid VM.getStats entry, none from one it does not allow', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'he-cpu-'));
    try {
      const load = async (answer: unknown) => {
        const path = join(dir, 'stat');
        writeFileSync(path, 'cpu  0 0 0 100 0 0 0 0\ncpu0 0 0 0 100 0 0 0 0\n');
        const m = started(
          createCpuMonitor({
            vdsm: answering({ 'VM.getStats': answer }),
            vmId: 'vm',
            intervalMs: 100,
            procStatPath: path,
          }),
        );
        await firstRound(m);
        writeFileSync(path, 'cpu  50 0 0 150 0 0 0 0\ncpu0 50 0 0 150 0 0 0 0\n');
        // The first round that reads the new figures gives the value (a late write only delays it a round).
        const v = await waitFor('a cpu load', () => m.last() !== null && { load: m.last() }, 10_000, 50);
        await m.stop();
        return v.load;
      };
      expect(await load([vmEntry({ status: 'Up', cpuUser: '30.00', cpuSys: '10.00', cpuActual: true })])).toBeCloseTo(
        0.1,
      );
      expect(await load([vmEntry({ status: 'Up', cpuUser: '30', cpuSys: '10.00', cpuActual: true })])).toBeCloseTo(0.5);
      expect(await load([{ status: 'Up', cpuUser: '30.00', cpuSys: '10.00', cpuActual: true }])).toBeCloseTo(0.5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe('vdsm monitors against a real vdsmd', () => {
  let service: Vdsmd;
  let serviceOpen = false;
  let client: VdsmClient;
  let vdsm: VdsmCall;
  let health: HttpServer;
  let healthUrl: string;
  let healthy = true;
  let dir: string;

  const call = async (method: string, params: Record<string, unknown> = {}) =>
    client.call(method, params, { timeoutMs: 10_000 });
  const engineWith = async (
    m: PeriodicMonitor<EngineHealth>,
    match: Partial<EngineHealth>,
    what: string,
    timeoutMs = 10_000,
  ) =>
    waitFor(
      what,
      () =>
        Object.entries(match).every(([k, v]) => (m.last() as unknown as Record<string, unknown>)[k] === v) && m.last(),
      timeoutMs,
      50,
    );
  const newEngineVm = async () => {
    const { uuid, xml } = engineDomainXml({ memoryMiB: 128 });
    await call('VM.create', { vmID: uuid, vmParams: { vmId: uuid, xml } });
    return uuid;
  };

  beforeAll(async () => {
    service = await startVdsmd(testConfig({ guestWaitTimeout: 0.3, vmSampleInterval: 1 }), { log: captureLog().log });
    serviceOpen = true;
    await service.recovered;
    client = await VdsmClient.connect({ host: '127.0.0.1', port: service.port });
    vdsm = (method, params, options) => client.call(method, params, options);
    health = createHttpServer((req, res) => {
      if (req.url !== '/ovirt-engine/services/health') return void res.writeHead(404).end();
      if (healthy) res.writeHead(200, { 'content-type': 'text/plain' }).end('DB Up!Welcome to Health Status!');
      else res.writeHead(500, { 'content-type': 'text/plain' }).end('DB Down!');
    });
    await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
    healthUrl = `http://127.0.0.1:${(health.address() as { port: number }).port}/ovirt-engine/services/health`;
    dir = mkdtempSync(join(tmpdir(), 'he-monitors-'));
  });

  afterAll(async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop();
    await client?.close();
    if (serviceOpen) await service?.close();
    await new Promise<void>((r) => (health ? health.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('checkLiveliness: "DB Up" is healthy; a 500 "DB Down", a 404 and a closed port are not', async () => {
    healthy = true;
    expect((await checkLiveliness(healthUrl, 5000)).healthy).toBe(true);
    healthy = false;
    expect(await checkLiveliness(healthUrl, 5000)).toMatchObject({
      healthy: false,
      detail: expect.stringMatching(/^HTTP 500/),
    });
    healthy = true;
    expect((await checkLiveliness(healthUrl.replace('/health', '/nothing'), 5000)).healthy).toBe(false);
    expect(
      (await checkLiveliness(`http://127.0.0.1:${await closedPort()}/ovirt-engine/services/health`, 5000)).healthy,
    ).toBe(false);
  });

  it('checkLiveliness is bounded when the page never answers', async () => {
    const mute = createTcpServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    try {
      const r = await checkLiveliness(`http://127.0.0.1:${(mute.address() as { port: number }).port}/`, 300);
      expect(r).toEqual({ healthy: false, detail: 'no answer within 300 ms' });
    } finally {
      mute.close();
      await new Promise<void>((r) => setImmediate(r));
    }
  });

  it('mgmt-bridge: a missing interface is false; an existing one follows Host.getStats', async () => {
    const missing = started(createBridgeMonitor({ vdsm, bridge: 'ovirtmgmt-nope', intervalMs: 60_000 }));
    expect(missing.last()).toBeNull();
    expect(await firstRound(missing)).toBe(false);
    const stats = (await call('Host.getStats')) as { network: Record<string, { state: string }> };
    const [name, nic] = Object.entries(stats.network)[0]!;
    const present = started(createBridgeMonitor({ vdsm, bridge: name, intervalMs: 60_000 }));
    expect(await firstRound(present)).toBe(nic.state === 'up');
  });

  it('mem-free: a positive number of MiB', async () => {
    const m = started(createMemFreeMonitor({ vdsm, intervalMs: 60_000 }));
    const v = await firstRound(m);
    expect(typeof v).toBe('number');
    expect(v).toBeGreaterThan(0);
  });

  it('an engine VM id never seen on this host: down, "vm not running on this host"', async () => {
    const m = started(createEngineHealthMonitor({ vdsm, vmId: engineDomainXml().uuid, healthUrl, intervalMs: 60_000 }));
    expect(m.last()).toEqual({ vm: 'unknown', health: 'unknown', detail: 'unknown' });
    expect(await firstRound(m)).toEqual({ vm: 'down', health: 'bad', detail: 'unknown', reason: REASON.noVm });
  });

  describe('one engine VM through its life', () => {
    let vmId: string;
    let m: PeriodicMonitor<EngineHealth>;

    it('Up with a healthy page: up/good, detail Up', async () => {
      healthy = true;
      vmId = await newEngineVm();
      m = started(createEngineHealthMonitor({ vdsm, vmId, healthUrl, intervalMs: 100, livelinessTimeoutMs: 2000 }));
      expect(await engineWith(m, { vm: 'up', health: 'good' }, 'up/good')).toEqual({
        vm: 'up',
        health: 'good',
        detail: 'Up',
      });
    });

    it('the health page failing: up/bad, "failed liveliness check"', async () => {
      healthy = false;
      expect(await engineWith(m, { health: 'bad' }, 'up/bad')).toEqual({
        vm: 'up',
        health: 'bad',
        detail: 'Up',
        reason: REASON.liveliness,
      });
      healthy = true;
      await engineWith(m, { health: 'good' }, 'good again');
    });

    it('Paused: up/bad, "bad vm status"', async () => {
      await call('VM.pause', { vmID: vmId });
      expect(await engineWith(m, { detail: 'Paused' }, 'Paused')).toEqual({
        vm: 'up',
        health: 'bad',
        detail: 'Paused',
        reason: REASON.badStatus,
      });
      await call('VM.cont', { vmID: vmId });
      await engineWith(m, { vm: 'up', health: 'good', detail: 'Up' }, 'up/good after cont');
    });

    it('Down with exitReason 6 (shut down by the admin): down_unexpected; once removed it stays so', async () => {
      await call('VM.shutdown', { vmID: vmId, delay: '0', message: 'bye' });
      const [stats] = (await waitFor(
        'Down in VM.getStats',
        async () => {
          const s = (await call('VM.getStats', { vmID: vmId })) as { status: string }[];
          return s[0]?.status === 'Down' && s;
        },
        10_000,
        50,
      )) as { status: string; exitReason: number }[];
      expect(stats!.exitReason).toBe(6);
      expect(await engineWith(m, { detail: 'Down' }, 'Down')).toEqual({
        vm: 'down_unexpected',
        health: 'bad',
        detail: 'Down',
        reason: REASON.badStatus,
      });
      await call('VM.destroy', { vmID: vmId });
      expect(await engineWith(m, { detail: 'unknown' }, 'noVM')).toEqual({
        vm: 'down_unexpected',
        health: 'bad',
        detail: 'unknown',
        reason: REASON.noVm,
      });
      await m.stop();
    });
  });

  it('a running engine VM destroyed while known up: down_missing', async () => {
    healthy = true;
    const vmId = await newEngineVm();
    const m = started(createEngineHealthMonitor({ vdsm, vmId, healthUrl, intervalMs: 100, livelinessTimeoutMs: 2000 }));
    await engineWith(m, { vm: 'up', health: 'good' }, 'up/good');
    await m.stop(); // so that no round can see the short-lived Down
    await call('VM.destroy', { vmID: vmId });
    const seen = m.rounds;
    m.start();
    expect(await nextRound(m, 10_000, seen)).toEqual({
      vm: 'down_missing',
      health: 'bad',
      detail: 'unknown',
      reason: REASON.noVm,
    });
    await m.stop();
  });

  it('cpu-load-no-engine: null until the first delta, then a load in 0..1', async () => {
    const vmId = await newEngineVm();
    const m = started(createCpuMonitor({ vdsm, vmId, intervalMs: 500 }));
    expect(m.last()).toBeNull();
    expect(await firstRound(m)).toBeNull();
    const v = await waitFor(
      'a cpu load',
      async () => {
        const x = await nextRound(m);
        return x !== null && { x };
      },
      10_000,
      50,
    );
    expect(v.x).toBeGreaterThanOrEqual(0);
    expect(v.x).toBeLessThanOrEqual(1);
    await m.stop();
    await call('VM.destroy', { vmID: vmId });
  });

  it('startMonitors: every reading filled in, and stop() is final', async () => {
    healthy = true;
    const vmId = await newEngineVm();
    const file = join(dir, 'whiteboard');
    writeFileSync(file, Buffer.alloc(4096));
    const listener = createTcpServer((s) => s.destroy());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const set = startMonitors({
      vdsm,
      vmId,
      bridge: 'ovirtmgmt-nope',
      networkTest: 'tcp',
      gateway: '127.0.0.1',
      tcpPort: (listener.address() as { port: number }).port,
      healthUrl,
      storagePath: file,
      intervalMs: 200,
    });
    try {
      const r = await waitFor(
        'all readings',
        () => {
          const x = set.readings();
          return (
            x.network !== null &&
            x.cpuLoad !== null &&
            x.memFreeMiB !== null &&
            x.storageOk !== null &&
            x.bridgeUp !== null &&
            x.engine.health === 'good' &&
            x.engine.detail === 'Up' &&
            x
          );
        },
        15_000,
        50,
      );
      expect(r).toEqual({
        network: 1,
        bridgeUp: false,
        memFreeMiB: expect.any(Number),
        cpuLoad: expect.any(Number),
        engine: { vm: 'up', health: 'good', detail: 'Up' },
        storageOk: true,
      });
    } finally {
      await set.stop();
      listener.close();
    }
    const rounds = Object.values(set.monitors).map((m) => m.rounds);
    // A witness on the same 200 ms interval: by its third round every stopped monitor would have run again.
    const witness = new PeriodicMonitor({ name: 'witness', intervalMs: 200, initial: 0, run: async () => 1 });
    witness.start();
    try {
      await waitFor('three witness rounds', () => witness.rounds >= 3, 10_000, 50);
    } finally {
      await witness.stop();
    }
    expect(Object.values(set.monitors).map((m) => m.rounds)).toEqual(rounds);
    await call('VM.destroy', { vmID: vmId });
  });

  // The RPC bounds are hang guards, generous for a busy machine (run D of issue 11 saw no Host.getStats answer within
  // 1 s for 10 s beside the heavy project): once vdsmd is closed every call fails at once, whatever the bound.
  it('vdsmd stopped: engine unknown "failed to getVmStats", bridge and mem-free null', async () => {
    const vmId = await newEngineVm();
    const engine = started(
      createEngineHealthMonitor({
        vdsm,
        vmId,
        healthUrl,
        intervalMs: 100,
        rpcTimeoutMs: 10_000,
        livelinessTimeoutMs: 2000,
      }),
    );
    const bridge = started(createBridgeMonitor({ vdsm, bridge: 'lo', intervalMs: 100, rpcTimeoutMs: 10_000 }));
    const mem = started(createMemFreeMonitor({ vdsm, intervalMs: 100, rpcTimeoutMs: 10_000 }));
    await engineWith(engine, { vm: 'up' }, 'up', 30_000);
    await waitFor('bridge and mem-free', () => mem.last() !== null && bridge.last() !== null, 30_000, 50);
    serviceOpen = false;
    await service.close();
    expect(await engineWith(engine, { vm: 'unknown' }, 'unknown')).toEqual({
      vm: 'unknown',
      health: 'unknown',
      detail: 'unknown',
      reason: REASON.rpcFailed,
    });
    await waitFor('bridge and mem-free null', () => mem.last() === null && bridge.last() === null, 10_000, 50);
  }, 90_000);
});
