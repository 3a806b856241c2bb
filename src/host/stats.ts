import { performance } from 'node:perf_hooks';
import { readDiskFree } from './disk.js';
import { hugepageState, thpState, type HugepageCounters } from './hugepages.js';
import { readMemoryFigures, type MemoryFigures } from './memory.js';
import { readInterfaces, type InterfaceSample } from './netstats.js';
import { pageSizeBytes, readLoadavg, readProcStat, readUptime, type CpuTimes } from './proc.js';
import { readNodeHugepages, readNodeMemory, readNumaNodes, type NumaNode } from './topology.js';

/** CPU time shares in percent (0-100). */
export interface CpuShare {
  user: number;
  sys: number;
  idle: number;
}

export interface NumaNodeMemory {
  freeMiB: number;
  usedPercent: number;
  /** Page size in KiB (the base page size included) -> free pages on this node. */
  freePages: Record<string, number>;
}

/** One host sample in plain numbers; the verb layer turns it into vdsm's wire types. */
export interface HostStats {
  /** Seconds between the two readings the CPU figures are computed from (0 on the very first sample). */
  intervalSec: number;
  cpu: CpuShare;
  /** Logical CPU id -> its share and NUMA node. */
  perCpu: Record<string, CpuShare & { node: number }>;
  /** This process's CPU use in percent of one CPU. */
  processCpu: { user: number; sys: number };
  /** Five-minute load average. */
  load5: number;
  memory: MemoryFigures;
  /** Epoch seconds; undefined where /proc/stat has no btime. */
  bootTime?: number;
  hostUptimeSec: number;
  processUptimeSec: number;
  interfaces: InterfaceSample[];
  numa: Record<string, NumaNodeMemory>;
  hugepages: Record<string, HugepageCounters>;
  thpState: 'always' | 'madvise' | 'never';
  /** Monitored path -> free MiB. */
  diskFreeMiB: Record<string, number>;
}

interface CpuReading {
  monoMs: number;
  total: CpuTimes;
  perCpu: Map<number, CpuTimes>;
  process: NodeJS.CpuUsage;
  bootTime?: number;
}

/** CPU figures over less than this are mostly jiffy rounding noise, so an older baseline is preferred. */
const MIN_WINDOW_MS = 1000;

/**
 * Host statistics without sleeping inside a request. CPU percentages need two readings: `start()` takes the
 * first, and each `sample()` takes a new one and measures against the newest kept reading that is at least
 * MIN_WINDOW_MS old (or the oldest one, right after start). So the engine's 15 s polling yields 15 s windows,
 * and a second caller right after the engine does not get a near-zero window. No timer runs: an idle
 * daemon does no sampling work, and there is nothing to stop besides dropping the readings.
 */
export class HostStatsSampler {
  private readings: CpuReading[] = [];
  private nodes: NumaNode[] = [];

  async start(): Promise<void> {
    this.nodes = await readNumaNodes();
    this.readings = [await takeCpuReading()];
  }

  stop(): void {
    this.readings = [];
  }

  async sample(): Promise<HostStats> {
    if (this.readings.length === 0) await this.start();
    const now = await takeCpuReading();
    const base = this.pickBaseline(now);
    this.readings = [...this.readings.filter((r) => r.monoMs >= base.monoMs), now].sort((a, b) => a.monoMs - b.monoMs);

    const [load, memory, hostUptimeSec, interfaces, numa, hugepages, thp, diskFreeMiB] = await Promise.all([
      readLoadavg(),
      readMemoryFigures(),
      readUptime(),
      readInterfaces(),
      this.readNuma(),
      hugepageState(),
      thpState(),
      readDiskFree(),
    ]);
    const intervalSec = Math.max(0, (now.monoMs - base.monoMs) / 1000);
    return {
      intervalSec,
      cpu: cpuShare(base.total, now.total),
      perCpu: this.perCpuShares(base, now),
      processCpu: processShare(base, now, intervalSec),
      load5: load[1],
      memory,
      bootTime: now.bootTime,
      hostUptimeSec,
      processUptimeSec: process.uptime(),
      interfaces,
      numa,
      hugepages,
      thpState: thp,
      diskFreeMiB,
    };
  }

  private pickBaseline(now: CpuReading): CpuReading {
    const oldEnough = this.readings.filter((r) => now.monoMs - r.monoMs >= MIN_WINDOW_MS);
    return oldEnough.at(-1) ?? this.readings[0] ?? now;
  }

  private perCpuShares(base: CpuReading, now: CpuReading): HostStats['perCpu'] {
    const nodeOf = new Map<number, number>();
    for (const node of this.nodes) for (const cpu of node.cpus) nodeOf.set(cpu, node.id);
    const shares: HostStats['perCpu'] = {};
    for (const [cpu, times] of [...now.perCpu].sort(([a], [b]) => a - b)) {
      const before = base.perCpu.get(cpu);
      // A CPU that came online between the readings has no baseline yet; vdsm skips it too.
      if (before) shares[String(cpu)] = { ...cpuShare(before, times), node: nodeOf.get(cpu) ?? 0 };
    }
    return shares;
  }

  private async readNuma(): Promise<Record<string, NumaNodeMemory>> {
    const pageKiB = (await pageSizeBytes()) / 1024;
    const numa: Record<string, NumaNodeMemory> = {};
    for (const node of this.nodes) {
      const [mem, huge] = await Promise.all([readNodeMemory(node.id), readNodeHugepages(node.id)]);
      const freePages: Record<string, number> = { [String(pageKiB)]: Math.floor(mem.freeKiB / pageKiB) };
      for (const [size, counts] of huge) freePages[String(size)] = counts.free;
      numa[String(node.id)] = {
        freeMiB: Math.floor(mem.freeKiB / 1024),
        // A node without memory counts as fully used, as in vdsm.
        usedPercent: mem.totalKiB > 0 ? 100 - Math.floor((100 * mem.freeKiB) / mem.totalKiB) : 100,
        freePages,
      };
    }
    return numa;
  }
}

async function takeCpuReading(): Promise<CpuReading> {
  const stat = await readProcStat();
  return {
    monoMs: performance.now(),
    total: stat.total,
    perCpu: stat.perCpu,
    process: process.cpuUsage(),
    bootTime: stat.bootTime,
  };
}

/** Shares of the jiffies that passed; like vdsm, idle is whatever is not user or system time. */
function cpuShare(before: CpuTimes, after: CpuTimes): CpuShare {
  const elapsed = after.total - before.total;
  if (elapsed <= 0) return { user: 0, sys: 0, idle: 100 };
  const user = clampPercent((100 * (after.user - before.user)) / elapsed);
  const sys = clampPercent((100 * (after.sys - before.sys)) / elapsed);
  return { user, sys, idle: Math.max(0, 100 - user - sys) };
}

function processShare(base: CpuReading, now: CpuReading, intervalSec: number): { user: number; sys: number } {
  if (intervalSec <= 0) return { user: 0, sys: 0 };
  const perSecond = (us: number) => (Math.max(0, us) / 1e6 / intervalSec) * 100;
  return {
    user: perSecond(now.process.user - base.process.user),
    sys: perSecond(now.process.system - base.process.system),
  };
}

function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, value));
}
