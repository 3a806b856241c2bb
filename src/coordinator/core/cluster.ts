/** Cluster-level decisions of the coordinator core: pure functions of the state (docs/coordinator.md). */
import { evacuationOf, type CoordinatorConfig } from './config.js';
import {
  DEFAULT_PROXY_PREFERENCE,
  type FenceAgentRef,
  type HostState,
  type HostStatus,
  type Power,
  type VmRecord,
} from './types.js';

/** Hosts known to be powered off or rebooting after a confirmed fence: not "hosts that were Up". */
const KNOWN_OFF: readonly HostStatus[] = ['PowerOffConfirmed', 'RecoveringVMs', 'Rebooting', 'Down'];

/** Reachable now: answered the last poll and not in a fence flow (nor added and never heard from). */
export function isUp(h: HostState): boolean {
  return h.status === 'Up' && h.everUp;
}

export interface PartitionView {
  counted: number;
  unreachable: number;
  /** true: no fencing anywhere (≥ threshold of the hosts that were Up cannot be reached). */
  holds: boolean;
  /** Fewer than 3 hosts: the percentage is replaced by the witness rule. */
  witnessRule: boolean;
}

/**
 * The partition guard: of the hosts that were Up (not in maintenance, not known off, not added and never heard
 * from), how many cannot be reached.
 * With 3 hosts or more, `unreachable / counted ≥ threshold` stops every fence. With fewer, a percentage means
 * nothing (one of two is already 50 %: oVirt's trap), so only "nobody reachable" holds here and each fence
 * needs a surviving witness that cannot reach the suspect either.
 */
export function partitionView(hosts: readonly HostState[], cfg: CoordinatorConfig): PartitionView {
  const counted = hosts.filter((h) => h.everUp && h.status !== 'Maintenance' && !KNOWN_OFF.includes(h.status));
  const unreachable = counted.filter((h) => h.failures > 0 || !isUp(h)).length;
  const witnessRule = counted.length < 3;
  const holds = witnessRule
    ? counted.length > 0 && unreachable === counted.length
    : unreachable * 100 >= cfg.partitionThresholdPct * counted.length;
  return { counted: counted.length, unreachable, holds, witnessRule };
}

const flapping = (h: HostState, now: number, cfg: CoordinatorConfig) =>
  h.returns.filter((t) => now - t <= cfg.flapWindow).length > cfg.flapCount;

export function isFlapping(h: HostState, now: number, cfg: CoordinatorConfig): boolean {
  return flapping(h, now, cfg);
}

const byId = (a: HostState, b: HostState) => (a.spec.id < b.spec.id ? -1 : a.spec.id > b.spec.id ? 1 : 0);

/**
 * The proxy for a power call on `target`: an Up host from the first source of its proxy preference that has one
 * (`cluster`: its own cluster; `dc`: any cluster), as the engine's FenceProxyLocator; never the target, never one
 * in `exclude`; within a source, hosts not flapping first, then by id (deterministic). null: no source has one.
 */
export function chooseProxy(
  hosts: readonly HostState[],
  target: HostState,
  exclude: readonly string[],
  now: number,
  cfg: CoordinatorConfig,
): string | null {
  const candidates = hosts.filter((h) => isUp(h) && h.spec.id !== target.spec.id && !exclude.includes(h.spec.id));
  const rank = (h: HostState) => (flapping(h, now, cfg) ? 1 : 0);
  for (const source of target.spec.proxyPreference ?? DEFAULT_PROXY_PREFERENCE) {
    const from = candidates.filter((h) => source === 'dc' || h.spec.cluster === target.spec.cluster);
    const best = from.sort((a, b) => rank(a) - rank(b) || byId(a, b))[0];
    if (best) return best.spec.id;
  }
  return null;
}

/** Peers asked whether they reach the suspect: Up hosts, same cluster first, at most `cfg.witnesses`. */
export function chooseWitnesses(hosts: readonly HostState[], target: HostState, cfg: CoordinatorConfig): string[] {
  const candidates = hosts.filter((h) => isUp(h) && h.spec.id !== target.spec.id);
  const rank = (h: HostState) => (h.spec.cluster === target.spec.cluster ? 0 : 1);
  return [...candidates]
    .sort((a, b) => rank(a) - rank(b) || byId(a, b))
    .slice(0, cfg.witnesses)
    .map((h) => h.spec.id);
}

/** Agent groups by `order` (equal order = concurrent: all must confirm). */
export function agentGroups(agents: readonly FenceAgentRef[]): FenceAgentRef[][] {
  const orders = [...new Set(agents.map((a) => a.order))].sort((a, b) => a - b);
  return orders.map((o) => agents.filter((a) => a.order === o));
}

/**
 * One answer for a group: `off` only if every agent says off; `on` if any says on; an error (or a policy skip
 * among others) if any agent failed; `skipped` only if all skipped.
 */
export function combinePower(per: readonly Power[]): Power {
  if (per.length === 0) return 'error';
  if (per.every((p) => p === 'skipped')) return 'skipped';
  if (per.some((p) => p === 'error' || p === 'skipped')) return 'error';
  if (per.some((p) => p === 'on')) return 'on';
  if (per.every((p) => p === 'off')) return 'off';
  return 'unknown';
}

/** What recovery does with each VM of a host confirmed off. */
export type VmFate = 'restart' | 'rehome' | 'mark-down';

/**
 * `ha-only`: HA VMs are restarted, every other VM is only marked Down. `all`: VMs that were running (or Unknown
 * because their host stopped answering) come back running; VMs defined but stopped are re-homed and stay
 * stopped; VMs in error are re-homed only if they were ever Up; nothing else moves.
 */
export function vmFate(vm: VmRecord, cluster: string, cfg: CoordinatorConfig): VmFate {
  const wasRunning = vm.state === 'running' || vm.state === 'unknown' || vm.state === 'starting';
  if (vm.ha && (wasRunning || vm.restart)) return 'restart';
  if (evacuationOf(cfg, cluster) !== 'all') return 'mark-down';
  if (wasRunning) return 'restart';
  if (vm.state === 'stopped') return 'rehome';
  if (vm.state === 'error' && vm.everUp) return 'rehome';
  return 'mark-down';
}

/**
 * Where to put a VM: Up hosts (not `exclude`) with enough free memory after what was already placed this round,
 * spread by count (fewest VMs first), then by id. null: nowhere fits.
 */
export function placeVm(
  hosts: readonly HostState[],
  vm: VmRecord,
  placed: Readonly<Record<string, { count: number; memMiB: number }>>,
  exclude: readonly string[] = [],
): string | null {
  const fits = hosts
    .filter((h) => isUp(h) && h.failures === 0 && !exclude.includes(h.spec.id))
    .map((h) => {
      const p = placed[h.spec.id] ?? { count: 0, memMiB: 0 };
      return { h, count: h.vmsSeen.length + p.count, free: h.freeMemMiB - p.memMiB };
    })
    .filter((c) => c.free >= vm.memMiB);
  fits.sort((a, b) => a.count - b.count || byId(a.h, b.h));
  return fits[0]?.h.spec.id ?? null;
}

/**
 * Which queued VMs may start now: due (next try reached), and no VM of higher priority still waiting, unless
 * this one has waited `priorityWaitMax` already. Highest priority first, then id.
 */
export function dueStarts(vms: readonly VmRecord[], now: number, cfg: CoordinatorConfig): VmRecord[] {
  const queued = vms.filter((v) => v.restart && v.queuedAt !== null && v.state !== 'running');
  const due = queued.filter((v) => v.startSentAt === null && (v.nextTryAt ?? 0) <= now);
  const blocked = (v: VmRecord) =>
    queued.some((o) => o.priority > v.priority) && now - (v.queuedAt ?? now) < cfg.priorityWaitMax;
  return due
    .filter((v) => !blocked(v))
    .sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
