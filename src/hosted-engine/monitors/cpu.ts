/**
 * The `cpu-load-no-engine` monitor (docs/hosted-engine.md, "The monitors"): the host's CPU load over the last interval
 * from /proc/stat, minus the engine VM's share as vdsmd reports it (VM.getStats cpuUser + cpuSys, percent of
 * one CPU), 0..1. null until two samples exist.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { z } from 'zod';
import vmGetStats from '../../verbs/vm/getStats.js';
import type { vmStatsSchema } from '../../verbs/vm/schemas.js';
import { PeriodicMonitor } from './periodic.js';
import type { VdsmCall } from './types.js';
import { RPC_TIMEOUT_MS } from './vdsm.js';

export interface CpuTicks {
  /** user + nice + system (upstream's "busy"). */
  busy: number;
  /** user .. steal (guest time is already inside user/nice, so not added twice). */
  total: number;
  /** Number of `cpuN` lines: the CPUs the kernel accounts for. */
  ncpu: number;
}

/** Reads the aggregate `cpu` line and counts the per-CPU lines of /proc/stat text. */
export function parseProcStat(text: string): CpuTicks {
  const lines = text.split('\n');
  const aggregate = lines.find((l) => /^cpu\s/.test(l));
  if (!aggregate) throw new Error('no cpu line in /proc/stat');
  const fields = aggregate.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 4 || fields.some((n) => !Number.isFinite(n)))
    throw new Error(`bad cpu line in /proc/stat: ${aggregate}`);
  const [user = 0, nice = 0, system = 0] = fields;
  const ncpu = lines.filter((l) => /^cpu\d+\s/.test(l)).length;
  return { busy: user + nice + system, total: fields.reduce((a, b) => a + b, 0), ncpu: Math.max(1, ncpu) };
}

/** The load of the window between two samples without the engine's share (0..1 of all CPUs), clamped to 0..1. */
export function loadWithoutEngine(prev: CpuTicks, cur: CpuTicks, engineShare: number): number | null {
  const total = cur.total - prev.total;
  if (!(total > 0)) return null;
  const load = (cur.busy - prev.busy) / total - Math.max(0, engineShare);
  return Math.min(1, Math.max(0, load));
}

/** The engine VM's share of all CPUs from one VM.getStats entry; 0 while vdsmd only has placeholders (cpuActual false). */
export function engineShareFromStats(stats: Partial<z.output<typeof vmStatsSchema>>, ncpu: number): number {
  if (stats.cpuActual === false) return 0;
  const pct = Number(stats.cpuUser) + Number(stats.cpuSys);
  return Number.isFinite(pct) && pct > 0 ? pct / Math.max(1, ncpu) / 100 : 0;
}

export interface CpuMonitorOptions {
  vdsm: VdsmCall;
  vmId: string;
  intervalMs: number;
  procStatPath?: string;
  rpcTimeoutMs?: number;
  log?: Logger;
}

export function createCpuMonitor(options: CpuMonitorOptions): PeriodicMonitor<number | null> {
  const path = options.procStatPath ?? '/proc/stat';
  let prev: CpuTicks | undefined;
  let value: number | null = null;
  return new PeriodicMonitor<number | null>({
    name: 'cpu-load-no-engine',
    intervalMs: options.intervalMs,
    initial: null,
    log: options.log,
    run: async () => {
      const cur = parseProcStat(await readFile(path, 'utf8'));
      let share = 0;
      if (prev) {
        try {
          const list = await options.vdsm(
            'VM.getStats',
            { vmID: options.vmId },
            { timeoutMs: options.rpcTimeoutMs ?? RPC_TIMEOUT_MS },
          );
          const parsed = vmGetStats.result.safeParse(list);
          if (parsed.success) share = engineShareFromStats(parsed.data[0]!, cur.ncpu);
        } catch {
          // Not on this host (noVM) or vdsmd unreachable: no engine share to take away.
        }
        value = loadWithoutEngine(prev, cur, share) ?? value;
      }
      prev = cur;
      return value;
    },
  });
}
