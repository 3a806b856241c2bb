/**
 * What the coordinator reads from a host: Host.ping2, Host.getStats (free memory, hosted-engine HA) and
 * Host.getAllVmStats (what runs there). Answers are parsed leniently, keeping only what the core uses, so that a
 * real vdsm's richer answers pass too.
 */
import { z } from 'zod';
import type { HostStats } from '../core/env.js';
import type { VmSeen } from '../core/types.js';
import { type HostCaller, HostCallError, pollFailure } from './caller.js';

const haStats = z.object({
  configured: z.boolean(),
  active: z.boolean(),
  score: z.number(),
  localMaintenance: z.boolean(),
  globalMaintenance: z.boolean(),
});

const hostStats = z.looseObject({
  memFree: z.number().nonnegative(),
  haStats: haStats.optional(),
});

const vmList = z.array(
  z.looseObject({
    vmId: z.string(),
    status: z.string(),
    exitCode: z.number().optional(),
    exitReason: z.number().optional(),
    exitMessage: z.string().optional(),
  }),
);

/** vdsm's exitCode of a VM Down with an error (0: a normal exit). */
const EXIT_ERROR = 1;

/** Host.ping2; resolves on `true`, rejects with the core's PollFailure otherwise (or the signal's reason). */
export async function ping(hosts: HostCaller, host: string, ms: number, signal: AbortSignal): Promise<void> {
  let answer: unknown;
  try {
    answer = await hosts.call(host, 'Host.ping2', {}, { timeoutMs: ms, signal });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw pollFailure(err);
  }
  if (answer !== true) throw pollFailure(new HostCallError('remote', `${host}: Host.ping2 answered ${answer}`));
}

/** Host.getStats then Host.getAllVmStats, within `ms` together; rejects with PollFailure. */
export async function stats(hosts: HostCaller, host: string, ms: number, signal: AbortSignal): Promise<HostStats> {
  const started = performance.now();
  try {
    const raw = await hosts.call(host, 'Host.getStats', {}, { timeoutMs: ms, signal });
    const s = parse(hostStats, raw, host, 'Host.getStats');
    const left = Math.max(1, ms - (performance.now() - started));
    const vms = await listOn(hosts, host, left, signal);
    return { freeMemMiB: s.memFree, vms, ...(s.haStats ? { ha: s.haStats } : {}) };
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw pollFailure(err);
  }
}

/** Host.getAllVmStats before starting anything; null when the host does not answer. */
export async function listVms(
  hosts: HostCaller,
  host: string,
  ms: number,
  signal: AbortSignal,
): Promise<VmSeen[] | null> {
  try {
    return await listOn(hosts, host, ms, signal);
  } catch {
    if (signal.aborted) throw signal.reason;
    return null;
  }
}

async function listOn(hosts: HostCaller, host: string, ms: number, signal: AbortSignal): Promise<VmSeen[]> {
  const raw = await hosts.call(host, 'Host.getAllVmStats', {}, { timeoutMs: ms, signal });
  return parse(vmList, raw, host, 'Host.getAllVmStats').map((v) =>
    v.status === 'Down' && v.exitCode === EXIT_ERROR
      ? { id: v.vmId, status: v.status, error: v.exitMessage || `exit reason ${v.exitReason ?? 'unknown'}` }
      : { id: v.vmId, status: v.status },
  );
}

function parse<T>(schema: z.ZodType<T>, raw: unknown, host: string, method: string): T {
  const r = schema.safeParse(raw);
  if (!r.success)
    throw new HostCallError('remote', `${host}: ${method} answered what we cannot read: ${r.error.message}`);
  return r.data;
}
