import type { HaStatus } from '../common/ha-status.js';
import { fixed2, gmtDateTime, intString, jsonFloat } from './format.js';
import type { HugepageCounters } from './hugepages.js';
import type { HostStats } from './stats.js';

/** vdsm's host_mem_reserve default (MiB); the legacy memAvailable adds it, as vdsm did. */
const HOST_MEM_RESERVE_MIB = 256;

export interface VmCounts {
  vmCount: number;
  vmActive: number;
  vmMigrating: number;
  incomingVmMigrations: number;
  outgoingVmMigrations: number;
}

export const NO_VMS: VmCounts = {
  vmCount: 0,
  vmActive: 0,
  vmMigrating: 0,
  incomingVmMigrations: 0,
  outgoingVmMigrations: 0,
};

interface WireCpuShare {
  cpuUser: string;
  cpuSys: string;
  cpuIdle: string;
}

export interface WireInterfaceStats {
  name: string;
  state: 'up' | 'down';
  speed: string;
  duplex: string;
  rx: string;
  tx: string;
  rxErrors: string;
  txErrors: string;
  rxDropped: string;
  txDropped: string;
  sampleTime: number;
}

/** Host.getStats as vdsm puts it on the wire (see the verb's result schema for each field's meaning). */
export interface VdsmHostStats extends WireCpuShare, VmCounts {
  cpuLoad: string;
  cpuUserVdsmd: string;
  cpuSysVdsmd: string;
  memUsed: string;
  anonHugePages: string;
  elapsedTime: string;
  bootTime?: string;
  rxDropped: string;
  txDropped: string;
  memFree: number;
  swapTotal: number;
  swapFree: number;
  memAvailable: number;
  memCommitted: number;
  memShared: number;
  dateTime: string;
  momStatus: 'active' | 'inactive' | 'disabled';
  netConfigDirty: 'True' | 'False';
  thpState: 'always' | 'madvise' | 'never';
  network: Record<string, WireInterfaceStats>;
  cpuStatistics: Record<string, WireCpuShare & { nodeIndex: number }>;
  numaNodeMemFree: Record<
    string,
    { memFree: string; memPercent: number; hugepages: Record<string, { freePages: number }> }
  >;
  diskStats: Record<string, { free: string }>;
  storageDomains: Record<string, never>;
  hugepages: Record<string, HugepageCounters>;
  v2vJobs: Record<string, never>;
  haStats: HaStatus;
  haScore?: number;
}

/**
 * Shapes a sample into vdsm's Host.getStats result, number types included (docs/protocol.md, "Number types the
 * engine accepts").
 */
export function toVdsmStats(stats: HostStats, ha: HaStatus, now = new Date(), vms: VmCounts = NO_VMS): VdsmHostStats {
  const network: Record<string, WireInterfaceStats> = {};
  let rxDropped = 0;
  let txDropped = 0;
  for (const i of stats.interfaces) {
    rxDropped += i.rxDropped;
    txDropped += i.txDropped;
    network[i.name] = {
      name: i.name,
      state: i.state,
      // The engine treats 0 as "no speed"; vdsm reports 1000 instead.
      speed: intString(i.speed || 1000),
      duplex: i.duplex,
      rx: intString(i.rx),
      tx: intString(i.tx),
      rxErrors: intString(i.rxErrors),
      txErrors: intString(i.txErrors),
      rxDropped: intString(i.rxDropped),
      txDropped: intString(i.txDropped),
      sampleTime: jsonFloat(i.sampleTime),
    };
  }

  const result: VdsmHostStats = {
    ...wireShare(stats.cpu),
    cpuLoad: fixed2(stats.load5),
    cpuUserVdsmd: fixed2(stats.processCpu.user),
    cpuSysVdsmd: fixed2(stats.processCpu.sys),
    memUsed: intString(stats.memory.usedPercent),
    anonHugePages: intString(stats.memory.anonHugePagesMiB),
    elapsedTime: fixed2(stats.processUptimeSec),
    ...(stats.bootTime !== undefined ? { bootTime: intString(stats.bootTime) } : {}),
    // vdsm reports the host totals crosswise (rx under tx and back); kept for wire compatibility.
    rxDropped: intString(txDropped),
    txDropped: intString(rxDropped),
    memFree: stats.memory.freeMiB,
    swapTotal: stats.memory.swapTotalMiB,
    swapFree: stats.memory.swapFreeMiB,
    memAvailable: stats.memory.freeMiB + HOST_MEM_RESERVE_MIB,
    memCommitted: 0,
    memShared: stats.memory.sharedMiB,
    ...vms,
    dateTime: gmtDateTime(now),
    momStatus: 'inactive',
    netConfigDirty: 'False',
    thpState: stats.thpState,
    network,
    cpuStatistics: Object.fromEntries(
      Object.entries(stats.perCpu).map(([cpu, share]) => [cpu, { nodeIndex: share.node, ...wireShare(share) }]),
    ),
    numaNodeMemFree: Object.fromEntries(
      Object.entries(stats.numa).map(([node, mem]) => [
        node,
        {
          memFree: intString(mem.freeMiB),
          memPercent: mem.usedPercent,
          hugepages: Object.fromEntries(
            Object.entries(mem.freePages).map(([size, free]) => [size, { freePages: free }]),
          ),
        },
      ]),
    ),
    diskStats: Object.fromEntries(
      Object.entries(stats.diskFreeMiB).map(([path, free]) => [path, { free: intString(free) }]),
    ),
    storageDomains: {},
    hugepages: stats.hugepages,
    v2vJobs: {},
    haStats: {
      configured: ha.configured,
      active: ha.active,
      // The engine casts score to Integer: a JSON float there would break its stats parsing.
      score: Math.max(0, Math.trunc(ha.score)),
      globalMaintenance: ha.globalMaintenance,
      localMaintenance: ha.localMaintenance,
    },
  };
  // haStats is always there; the legacy top-level haScore only when hosted-engine HA is configured.
  if (ha.configured) result.haScore = result.haStats.score;
  return result;
}

function wireShare(share: { user: number; sys: number; idle: number }): WireCpuShare {
  return { cpuUser: fixed2(share.user), cpuSys: fixed2(share.sys), cpuIdle: fixed2(share.idle) };
}
