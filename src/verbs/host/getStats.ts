import { z } from 'zod';
import { HA_NOT_CONFIGURED, type HaStatus } from '../../common/ha-status.js';
import { toVdsmStats } from '../../host/vdsm-stats.js';
import type { VerbContext } from '../context.js';
import { defineVerb } from '../define.js';

// vdsm's wire number types: "double" fields are "%.2f" strings, counters are decimal strings, the rest JSON ints.
const double2 = z.string().regex(/^\d+\.\d\d$/);
const uintString = z.string().regex(/^\d+$/);
const int = z.number().int();
const uint = z.number().int().nonnegative();

const cpuShare = { cpuUser: double2, cpuSys: double2, cpuIdle: double2 };

const interfaceStats = z.object({
  name: z.string(),
  state: z.enum(['up', 'down']),
  speed: uintString.describe('Mbps; 0 (unknown) is reported as 1000'),
  duplex: z.string(),
  rx: uintString.describe('bytes received since the counter started'),
  tx: uintString.describe('bytes sent since the counter started'),
  rxErrors: uintString,
  txErrors: uintString,
  rxDropped: uintString,
  txDropped: uintString,
  sampleTime: z
    .number()
    .refine((t) => !Number.isInteger(t), 'must stay a float on the wire')
    .describe('epoch seconds'),
});

const hugepageCounters = z.object({
  free_hugepages: uint,
  nr_hugepages: uint,
  nr_hugepages_mempolicy: uint,
  nr_overcommit_hugepages: uint,
  resv_hugepages: uint,
  surplus_hugepages: uint,
  'vm.free_hugepages': uint,
});

const haStats = z.object({
  configured: z.boolean(),
  active: z.boolean(),
  score: uint,
  globalMaintenance: z.boolean(),
  localMaintenance: z.boolean(),
});

const storageDomainVitals = z.looseObject({
  code: int,
  lastCheck: z.string(),
  delay: z.string(),
  valid: z.boolean(),
  acquired: z.boolean(),
  actual: z.boolean(),
});

export const hostStatsResult = z.object({
  ...cpuShare,
  cpuLoad: double2.describe('five-minute load average'),
  cpuUserVdsmd: double2.describe('vdsmd user CPU, percent of one CPU'),
  cpuSysVdsmd: double2.describe('vdsmd system CPU, percent of one CPU'),
  memUsed: uintString.describe('percent of memory in use'),
  anonHugePages: uintString.describe('MiB in transparent huge pages'),
  elapsedTime: double2.describe('seconds vdsmd has been running'),
  bootTime: uintString.describe('host boot time, epoch seconds').optional(),
  rxDropped: uintString.describe('host-wide dropped packets (vdsm reports rx and tx crosswise)'),
  txDropped: uintString,
  memFree: uint.describe('MiB free, cache and reclaimable slab included'),
  swapTotal: uint.describe('MiB'),
  swapFree: uint.describe('MiB'),
  memAvailable: uint.describe('legacy: memFree plus the host reserve, MiB'),
  memCommitted: uint.describe('legacy: MiB committed to VMs'),
  memShared: uint.describe('MiB shared by KSM'),
  vmCount: uint,
  vmActive: uint,
  vmMigrating: uint,
  incomingVmMigrations: uint,
  outgoingVmMigrations: uint,
  dateTime: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d GMT$/),
  momStatus: z.enum(['active', 'inactive', 'disabled']),
  netConfigDirty: z.enum(['True', 'False']),
  thpState: z.enum(['always', 'madvise', 'never']),
  network: z.record(z.string(), interfaceStats),
  cpuStatistics: z.record(z.string().regex(/^\d+$/), z.object({ nodeIndex: uint, ...cpuShare })),
  numaNodeMemFree: z.record(
    z.string().regex(/^\d+$/),
    z.object({
      memFree: uintString.describe('MiB'),
      memPercent: int.min(0).max(100),
      hugepages: z.record(z.string().regex(/^\d+$/), z.object({ freePages: uint })),
    }),
  ),
  diskStats: z.record(z.string(), z.object({ free: uintString.describe('MiB') })),
  storageDomains: z.record(z.string(), storageDomainVitals).describe('empty until storage is implemented'),
  hugepages: z.record(z.string().regex(/^\d+$/), hugepageCounters),
  v2vJobs: z.record(z.string(), z.never()),
  haStats,
  haScore: uint.describe('legacy copy of haStats.score, present only when hosted-engine HA is configured').optional(),
});

export default defineVerb({
  name: 'Host.getStats',
  description:
    "Reports the host's current load: CPU, memory, swap, network counters, NUMA and hugepage figures, and the hosted-engine HA state. The engine polls it every 15 seconds.",
  params: z.object({}),
  result: hostStatsResult,
  handler: async (_params, ctx) => {
    const ha = await haStatusOrDefaults(ctx);
    const counts = ctx.vms?.counts() ?? { total: 0, active: 0 };
    const vms = {
      vmCount: counts.total,
      vmActive: counts.active,
      vmMigrating: 0,
      incomingVmMigrations: 0,
      outgoingVmMigrations: 0,
    };
    return toVdsmStats(await ctx.hostStats.sample(), ha, new Date(), vms);
  },
});

/** Like vdsm, a failing HA query costs only the HA block (reported as absent), never the whole stats call. */
async function haStatusOrDefaults(ctx: VerbContext): Promise<HaStatus> {
  try {
    return await ctx.ha.status();
  } catch (err) {
    ctx.log.warn({ err }, 'cannot read hosted-engine HA status; reporting HA as not configured');
    return HA_NOT_CONFIGURED.status();
  }
}
