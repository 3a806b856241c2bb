import { readFileSync } from 'node:fs';
import os from 'node:os';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HostStatsSampler, type HostStats } from '../src/host/stats.js';
import { toVdsmStats } from '../src/host/vdsm-stats.js';
import { HA_NOT_CONFIGURED, type HaStatus, type HaStatusProvider } from '../src/common/ha-status.js';
import type { VerbContext } from '../src/verbs/context.js';
import getStats, { hostStatsResult } from '../src/verbs/host/getStats.js';

const log = pino({ level: 'silent' });
const hostStats = new HostStatsSampler();
const notConfigured: VerbContext = { ha: HA_NOT_CONFIGURED, log, hostStats };
const configuredHa: HaStatus = {
  configured: true,
  active: true,
  score: 3400,
  globalMaintenance: false,
  localMaintenance: true,
};
const fakeHa: HaStatusProvider = {
  status: async () => configuredHa,
  setMaintenance: async () => {
    throw new Error('not used by getStats');
  },
};
const HA_NOT_CONFIGURED_STATUS: HaStatus = await HA_NOT_CONFIGURED.status();

/** Fields the engine parses as doubles: they must be "%.2f" strings, never JSON numbers. */
const DOUBLE_FIELDS = [
  'cpuUser',
  'cpuSys',
  'cpuIdle',
  'cpuLoad',
  'cpuUserVdsmd',
  'cpuSysVdsmd',
  'elapsedTime',
] as const;
/** Counters vdsm sends as decimal strings. */
const UINT_STRING_FIELDS = ['memUsed', 'anonHugePages', 'bootTime', 'rxDropped', 'txDropped'] as const;
/** Fields vdsm sends as JSON integers. */
const INT_FIELDS = [
  'memFree',
  'swapTotal',
  'swapFree',
  'memAvailable',
  'memCommitted',
  'memShared',
  'vmCount',
  'vmActive',
  'vmMigrating',
  'incomingVmMigrations',
  'outgoingVmMigrations',
] as const;

function meminfoKiB(): Record<string, number> {
  const info: Record<string, number> = {};
  for (const line of readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^([^:]+):\s+(\d+)/.exec(line);
    if (m) info[m[1]!] = Number(m[2]);
  }
  return info;
}

/**
 * Keeps this thread busy until it has used `cpuMs` of user CPU and `wallMs` have passed (CPU time, not wall time,
 * so a loaded machine only makes it slower); returns the user CPU used, in microseconds.
 */
function burnCpu(cpuMs: number, wallMs = 0): number {
  const start = process.cpuUsage().user;
  const end = performance.now() + wallMs;
  let x = 0;
  for (let i = 0; i < 1e9 && (process.cpuUsage().user - start < cpuMs * 1000 || performance.now() < end); i++) {
    for (let j = 0; j < 1000; j++) x += Math.sqrt(x + 1);
  }
  return process.cpuUsage().user - start;
}

/** The "btime" line of /proc/stat: boot time in epoch seconds. */
const btime = () => Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
const loadavg5 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[1]);

describe('Host.getStats', () => {
  let result: Record<string, unknown>;
  let configured: Record<string, unknown>;
  /** Around the sampler's start and the getStats call: wall clock, process uptime, load, our burnt CPU. */
  const around = { wallMs: [0, 0], uptime: [0, 0], load5: [0, 0], windowMs: 0, burntMicros: 0 };

  beforeAll(async () => {
    const t0 = performance.now();
    await hostStats.start();
    around.burntMicros = burnCpu(600, 1200);
    around.wallMs[0] = Date.now();
    around.uptime[0] = process.uptime();
    around.load5[0] = loadavg5();
    result = (await getStats.handler({}, notConfigured)) as Record<string, unknown>;
    around.load5[1] = loadavg5();
    around.uptime[1] = process.uptime();
    around.wallMs[1] = Date.now();
    around.windowMs = performance.now() - t0;
    configured = (await getStats.handler({}, { ha: fakeHa, log, hostStats })) as Record<string, unknown>;
  });

  afterAll(() => {
    hostStats.stop();
  });

  it('matches the result schema and carries no undocumented keys', () => {
    expect(hostStatsResult.safeParse(result).error).toBeUndefined();
    expect(hostStatsResult.safeParse(configured).error).toBeUndefined();
    const documented = Object.keys(hostStatsResult.shape);
    expect(Object.keys(result).filter((k) => !documented.includes(k))).toEqual([]);
  });

  it('uses vdsm wire types field by field', () => {
    for (const f of DOUBLE_FIELDS) expect(result[f], f).toMatch(/^\d+\.\d\d$/);
    for (const f of UINT_STRING_FIELDS) expect(result[f], f).toMatch(/^\d+$/);
    for (const f of INT_FIELDS) expect(Number.isInteger(result[f]), f).toBe(true);
    expect(result.dateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d GMT$/);
    expect(result.netConfigDirty).toBe('False');
    expect(result.momStatus).toBe('inactive');
    expect(['always', 'madvise', 'never']).toContain(result.thpState);
    for (const f of ['vmCount', 'vmActive', 'vmMigrating', 'incomingVmMigrations', 'outgoingVmMigrations'])
      expect(result[f]).toBe(0);
    expect(result.storageDomains).toEqual({});
    expect(result.v2vJobs).toEqual({});
  });

  it('reports CPU shares that add up and cover every online CPU', () => {
    const total = Number(result.cpuUser) + Number(result.cpuSys) + Number(result.cpuIdle);
    expect(total).toBeGreaterThan(99.98);
    expect(total).toBeLessThan(100.02);
    const perCpu = result.cpuStatistics as Record<
      string,
      { nodeIndex: number; cpuUser: string; cpuSys: string; cpuIdle: string }
    >;
    expect(Object.keys(perCpu)).toHaveLength(os.cpus().length);
    for (const cpu of Object.values(perCpu)) {
      expect(Number.isInteger(cpu.nodeIndex)).toBe(true);
      for (const v of [cpu.cpuUser, cpu.cpuSys, cpu.cpuIdle]) expect(v).toMatch(/^\d+\.\d\d$/);
    }
    // The busy loop before the call ran on this process, inside the sampler's window (at most windowMs long).
    expect(Number(result.cpuUserVdsmd)).toBeGreaterThanOrEqual(
      (100 * around.burntMicros) / 1000 / around.windowMs - 0.01,
    );
  });

  it('reports memory that agrees with /proc/meminfo', async () => {
    // Other processes change these figures: read /proc/meminfo right before and after a fresh getStats.
    const freeMiB = (m: Record<string, number>) =>
      ((m.MemFree ?? 0) + (m.Cached ?? 0) + (m.Buffers ?? 0) + (m.SReclaimable ?? 0)) / 1024;
    const before = meminfoKiB();
    const fresh = (await getStats.handler({}, notConfigured)) as Record<string, unknown>;
    const after = meminfoKiB();
    expect(fresh.memFree as number).toBeGreaterThan(0);
    expect(fresh.memFree as number).toBeGreaterThanOrEqual(Math.min(freeMiB(before), freeMiB(after)) - 16);
    expect(fresh.memFree as number).toBeLessThanOrEqual(Math.max(freeMiB(before), freeMiB(after)) + 16);
    const m = after;
    expect(result.swapTotal).toBe(Math.floor((m.SwapTotal ?? 0) / 1024));
    expect(result.swapFree as number).toBeLessThanOrEqual(result.swapTotal as number);
    expect(result.memAvailable).toBe((result.memFree as number) + 256);
    const used = Number(result.memUsed);
    expect(used).toBeGreaterThanOrEqual(0);
    expect(used).toBeLessThanOrEqual(100);
  });

  it('reports boot time, vdsmd uptime, host time and load as read around the call', () => {
    expect(result.bootTime).toBe(String(btime()));
    // elapsedTime and cpuLoad are "%.2f"; dateTime has whole seconds.
    expect(Number(result.elapsedTime)).toBeGreaterThanOrEqual(around.uptime[0]! - 0.005);
    expect(Number(result.elapsedTime)).toBeLessThanOrEqual(around.uptime[1]! + 0.005);
    const reported = Date.parse((result.dateTime as string).replace(' GMT', 'Z'));
    expect(reported).toBeGreaterThanOrEqual(Math.floor(around.wallMs[0]! / 1000) * 1000);
    expect(reported).toBeLessThanOrEqual(around.wallMs[1]!);
    expect(Number(result.cpuLoad)).toBeGreaterThanOrEqual(Math.min(...around.load5) - 0.005);
    expect(Number(result.cpuLoad)).toBeLessThanOrEqual(Math.max(...around.load5) + 0.005);
  });

  it('reports every network device, loopback up, with string counters and a float sampleTime', () => {
    const network = result.network as Record<string, Record<string, unknown>>;
    const devices = readFileSync('/proc/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]!.trim())
      .filter(Boolean);
    expect(Object.keys(network).sort()).toEqual(devices.sort());
    const lo = network.lo!;
    expect(lo).toMatchObject({ name: 'lo', state: 'up', speed: '1000' });
    for (const f of ['rx', 'tx', 'rxErrors', 'txErrors', 'rxDropped', 'txDropped', 'speed'])
      expect(lo[f], f).toMatch(/^\d+$/);
    expect(typeof lo.sampleTime).toBe('number');
    expect(lo.sampleTime as number).toBeGreaterThanOrEqual(around.wallMs[0]! / 1000 - 0.001);
    expect(lo.sampleTime as number).toBeLessThanOrEqual(around.wallMs[1]! / 1000 + 0.001);
  });

  it('always has haStats with the defaults and no haScore when HA is not configured', () => {
    expect(result.haStats).toEqual({
      configured: false,
      active: false,
      score: 0,
      globalMaintenance: false,
      localMaintenance: false,
    });
    expect('haScore' in result).toBe(false);
  });

  it('adds haScore next to haStats when HA is configured', () => {
    expect(configured.haStats).toEqual(configuredHa);
    expect(configured.haScore).toBe(3400);
  });

  it('still answers, with HA reported absent, when the HA provider fails', async () => {
    const broken: HaStatusProvider = {
      ...fakeHa,
      status: async () => Promise.reject(new Error('broker socket closed')),
    };
    const stats = (await getStats.handler({}, { ha: broken, log, hostStats })) as Record<string, unknown>;
    expect(stats.haStats).toEqual(HA_NOT_CONFIGURED_STATUS);
    expect('haScore' in stats).toBe(false);
    expect(stats.memFree as number).toBeGreaterThan(0);
  });

  it('keeps every type through a JSON round trip', () => {
    for (const original of [result, configured]) {
      const text = JSON.stringify(original);
      const wire = JSON.parse(text) as Record<string, unknown>;
      expect(wire).toEqual(original);
      for (const f of DOUBLE_FIELDS) expect(typeof wire[f], f).toBe('string');
      for (const f of INT_FIELDS) expect(Number.isInteger(wire[f]), f).toBe(true);
      for (const cpu of Object.values(wire.cpuStatistics as Record<string, Record<string, unknown>>)) {
        expect(typeof cpu.cpuUser).toBe('string');
        expect(typeof cpu.cpuIdle).toBe('string');
      }
      // A float sampleTime must still be written with a fraction, or the engine's double parser drops it.
      const sampleTimes = [...text.matchAll(/"sampleTime":([0-9.eE+-]+)/g)].map((m) => m[1]!);
      expect(sampleTimes.length).toBe(Object.keys(wire.network as object).length);
      for (const t of sampleTimes) expect(t).toMatch(/^\d+\.\d+$/);
    }
  });
});

describe('HostStatsSampler', () => {
  it('measures CPU over the time since start(): the CPU burnt in between is in processCpu', async () => {
    const sampler = new HostStatsSampler();
    const cpu0 = process.cpuUsage().user;
    await sampler.start();
    const burnt = burnCpu(300, 1100);
    const stats = await sampler.sample();
    const cpu1 = process.cpuUsage().user;
    expect(stats.intervalSec).toBeGreaterThanOrEqual(1.1);
    const seenMicros = (stats.processCpu.user / 100) * stats.intervalSec * 1e6;
    expect(seenMicros).toBeGreaterThanOrEqual(burnt - 1);
    expect(seenMicros).toBeLessThanOrEqual(cpu1 - cpu0 + 1);
    expect(stats.cpu.user + stats.cpu.sys + stats.cpu.idle).toBeCloseTo(100, 5);
    sampler.stop();
  });

  it('never sleeps in sample(): it answers with timers frozen', async () => {
    const sampler = new HostStatsSampler();
    await sampler.start();
    const realSetTimeout = setTimeout;
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'setImmediate'] });
    try {
      const outcome = await Promise.race([
        sampler.sample().then(() => 'answered'),
        new Promise((r) => realSetTimeout(() => r('waited 10 s'), 10_000).unref()),
      ]);
      expect(outcome).toBe('answered');
    } finally {
      vi.useRealTimers();
      sampler.stop();
    }
  });

  it('keeps a window of at least a second for back-to-back calls', async () => {
    const sampler = new HostStatsSampler();
    await sampler.start();
    burnCpu(0, 1100);
    const first = await sampler.sample();
    const second = await sampler.sample();
    expect(first.intervalSec).toBeGreaterThanOrEqual(1.1);
    // The second call measures from start() again rather than over the few ms since the first call.
    expect(second.intervalSec).toBeGreaterThanOrEqual(1.1);
    sampler.stop();
  });

  it('reports an idle host with no window on a sampler that was never started', async () => {
    const begin = performance.now();
    const stats = await new HostStatsSampler().sample();
    // The window is what sample() took itself: it starts the sampler, and it never sleeps (see above).
    expect(stats.intervalSec * 1000).toBeLessThanOrEqual(performance.now() - begin);
    expect(stats.cpu.user + stats.cpu.sys + stats.cpu.idle).toBeCloseTo(100, 5);
  });
});

describe('toVdsmStats number typing', () => {
  const whole: HostStats = {
    intervalSec: 15,
    cpu: { user: 5, sys: 2, idle: 93 },
    perCpu: { '0': { user: 10, sys: 0, idle: 90, node: 0 } },
    processCpu: { user: 1, sys: 0 },
    load5: 1,
    memory: {
      totalMiB: 4096,
      freeMiB: 2048,
      usedPercent: 50,
      swapTotalMiB: 0,
      swapFreeMiB: 0,
      anonHugePagesMiB: 0,
      sharedMiB: 0,
    },
    bootTime: 1_700_000_000,
    hostUptimeSec: 100,
    processUptimeSec: 60,
    interfaces: [
      {
        name: 'eth0',
        state: 'up',
        speed: 0,
        duplex: 'full',
        rx: 10,
        tx: 20,
        rxErrors: 0,
        txErrors: 0,
        rxDropped: 3,
        txDropped: 7,
        sampleTime: 1_700_000_100,
      },
    ],
    numa: { '0': { freeMiB: 1024, usedPercent: 75, freePages: { '4': 262144 } } },
    hugepages: {},
    thpState: 'never',
    diskFreeMiB: { '/tmp': 100 },
  };

  it('writes whole-number doubles as 2-decimal strings and keeps them strings through JSON', () => {
    const wire = JSON.parse(
      JSON.stringify(toVdsmStats(whole, configuredHa, new Date(Date.UTC(2024, 0, 2, 3, 4, 5)))),
    ) as Record<string, unknown>;
    expect(wire).toMatchObject({
      cpuUser: '5.00',
      cpuSys: '2.00',
      cpuIdle: '93.00',
      cpuLoad: '1.00',
      cpuUserVdsmd: '1.00',
      cpuSysVdsmd: '0.00',
      elapsedTime: '60.00',
      memUsed: '50',
      bootTime: '1700000000',
      dateTime: '2024-01-02T03:04:05 GMT',
      diskStats: { '/tmp': { free: '100' } },
      numaNodeMemFree: { '0': { memFree: '1024', memPercent: 75, hugepages: { '4': { freePages: 262144 } } } },
      cpuStatistics: { '0': { nodeIndex: 0, cpuUser: '10.00', cpuSys: '0.00', cpuIdle: '90.00' } },
      haScore: 3400,
    });
    expect(hostStatsResult.safeParse(wire).error).toBeUndefined();
  });

  it('reports speed 0 as 1000, keeps a whole sampleTime a float, and swaps the host drop totals like vdsm', () => {
    const stats = toVdsmStats(whole, HA_NOT_CONFIGURED_STATUS);
    const eth0 = stats.network.eth0!;
    expect(eth0.speed).toBe('1000');
    expect(eth0.rxDropped).toBe('3');
    expect(JSON.stringify(eth0.sampleTime)).toMatch(/^1700000100\.\d+$/);
    expect(stats.rxDropped).toBe('7');
    expect(stats.txDropped).toBe('3');
    expect('haScore' in stats).toBe(false);
  });

  it('keeps haStats.score a JSON integer even if the provider hands over a fraction', () => {
    const stats = toVdsmStats(whole, { ...configuredHa, score: 2400.7 });
    expect(stats.haStats.score).toBe(2400);
    expect(stats.haScore).toBe(2400);
  });
});
