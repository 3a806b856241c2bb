/**
 * Every number the coordinator's core decides with, in one object (docs/coordinator.md, "Defaults"). Seconds
 * unless the name says otherwise. The pure core reads only this; the driver reads the poll intervals from it too.
 */
export interface CoordinatorConfig {
  /** Host.ping2 every this many seconds per host. */
  pingInterval: number;
  /** Host.getStats (free memory, the VM list) every this many seconds per host. */
  statsInterval: number;
  /** NonResponsive needs at least this many consecutive failed polls ... */
  failuresForNonResponsive: number;
  /** ... AND this long since the last good answer: base + perVm × running VMs, capped. */
  graceBase: number;
  gracePerVm: number;
  graceCap: number;
  /** Soft fence succeeded when Host.ping2 answers within this long after the SSH restart. */
  softFenceUpWithin: number;
  /** Hard fence: status polls after `off`, this far apart, at most this many; UNKNOWN this many times is an error. */
  statusPollInterval: number;
  statusPollTries: number;
  unknownTolerance: number;
  /** A power status OFF seen before any `off` is only believed after a second OFF this much later. */
  offRecheckAfter: number;
  /** Send `on` after OFF is confirmed (its failure never blocks VM recovery). */
  powerOnAfterFence: boolean;
  /** After the `on`, network errors from the host are ignored this long (its reboot). */
  rebootWindow: number;
  /** No fencing while this share (percent) of the hosts that were Up is unreachable (3 hosts or more). */
  partitionThresholdPct: number;
  /** Peers asked whether they still reach a suspect's vdsm before it is fenced. */
  witnesses: number;
  /**
   * The witnesses get two ping intervals to answer, and never less than this: a witness asking a frozen host waits
   * out its whole probe bound (3 s, src/coordinator/hosts/links.ts) before it can say "not reached".
   */
  witnessWaitMin: number;
  /** A new leader waits one lease TTL (and a full poll round) before fencing anything. */
  leaderTtl: number;
  /** More than `flapCount` returns to Up within `flapWindow` makes a host flapping: `flapQuiet` between power actions. */
  flapCount: number;
  flapWindow: number;
  flapQuiet: number;
  /** A fence skipped by policy (the target's storage lease still live) or by a witness is looked at again after this. */
  recheckAfter: number;
  /** A lower-priority VM waits for higher ones at most this long. */
  priorityWaitMax: number;
  /** A VM.create not seen Up within this long counts as a failed start. */
  startConfirmWithin: number;
  /**
   * VM.create calls in flight (sent, not seen Up yet) per target host: restarts run in parallel, but a host that
   * takes fifty at once boots them all slowly (Masakari evacuates three at a time and times out past thirty).
   */
  startsInFlightPerHost: number;
  /** Failed starts: retried `retryShort` apart `retryShortCount` times, then every `retryLong`. */
  retryShort: number;
  retryShortCount: number;
  retryLong: number;
  /**
   * A failed VM.shutdown (maintenance, `vm stop`) or Host.setHaMaintenanceMode: tried again `opRetryAfter` apart
   * `opRetryCount` times (each failure an alert), then every `opRetryLong`. Never a power action.
   */
  opRetryAfter: number;
  opRetryCount: number;
  opRetryLong: number;
  /** Per cluster: `ha-only` (default) restarts HA VMs only; `all` re-homes every VM (see docs). */
  evacuation: Record<string, EvacuationPolicy>;
  defaultEvacuation: EvacuationPolicy;
  /** Per cluster: false stops every fence there (audited). */
  fencingDisabled: readonly string[];
}

export type EvacuationPolicy = 'ha-only' | 'all';

export const DEFAULT_COORDINATOR_CONFIG: CoordinatorConfig = {
  pingInterval: 2,
  statsInterval: 10,
  failuresForNonResponsive: 3,
  graceBase: 20,
  gracePerVm: 0.25,
  graceCap: 45,
  softFenceUpWithin: 20,
  statusPollInterval: 3,
  statusPollTries: 20,
  unknownTolerance: 3,
  offRecheckAfter: 5,
  powerOnAfterFence: true,
  rebootWindow: 600,
  partitionThresholdPct: 50,
  witnesses: 2,
  witnessWaitMin: 4,
  leaderTtl: 10,
  flapCount: 3,
  flapWindow: 600,
  flapQuiet: 180,
  recheckAfter: 10,
  priorityWaitMax: 600,
  startConfirmWithin: 60,
  startsInFlightPerHost: 10,
  retryShort: 30,
  retryShortCount: 10,
  retryLong: 1800,
  opRetryAfter: 30,
  opRetryCount: 5,
  opRetryLong: 1800,
  evacuation: {},
  defaultEvacuation: 'ha-only',
  fencingDisabled: [],
};

/** Seconds without a good answer before a host with `vms` running VMs may be called NonResponsive. */
export function graceSeconds(cfg: CoordinatorConfig, vms: number): number {
  return Math.min(cfg.graceCap, cfg.graceBase + cfg.gracePerVm * vms);
}

export function evacuationOf(cfg: CoordinatorConfig, cluster: string): EvacuationPolicy {
  return cfg.evacuation[cluster] ?? cfg.defaultEvacuation;
}
