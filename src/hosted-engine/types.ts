/** Shared vocabulary of the hosted-engine HA core (docs/hosted-engine.md). No I/O here. */

/** The engine VM as one host sees it (the engine-health monitor's `vm`). */
export type EngineVm = 'up' | 'down' | 'down_unexpected' | 'down_missing' | 'unknown';

/** The engine-health monitor's result, published in every host block as "engine status" JSON. */
export interface EngineHealth {
  vm: EngineVm;
  health: 'good' | 'bad' | 'unknown';
  /** vdsm's VM status (Up, Powering up, Paused, …) or "unknown". */
  detail: string;
  reason?: string;
}

/** One host's block on the shared whiteboard (slot = host id); its layout: docs/hosted-engine.md, "The whiteboard". */
export interface HostBlock {
  hostId: number;
  /** The publishing host's own monotonic seconds; only compared with its earlier values, never with ours. */
  hostTs: number;
  score: number;
  engineStatus: EngineHealth;
  hostname: string;
  /** Local maintenance. */
  maintenance: boolean;
  /** The agent stopped cleanly (its last publish). */
  stopped: boolean;
  confOnSharedStorage: boolean;
  localConfTimestamp: number;
  /** The agent's state name (human-readable extra part: `state=`). */
  state: string;
}

/** Slot 0. */
export interface GlobalBlock {
  maintenance: boolean;
}

/** Everything the agent's state machine learns in one tick: monitors, local flags, the whiteboard. */
export interface Observations {
  /** Monotonic seconds (the injected clock). */
  now: number;
  globalMaintenance: boolean;
  localMaintenance: boolean;
  /** Fraction of network probes that succeeded, 0..1; null when the monitor has no result (counted as 0). */
  network: number | null;
  /** Management bridge up; null when vdsmd could not say (counted as down, unlike upstream). */
  bridgeUp: boolean | null;
  /** MiB free on this host; null when unknown (no penalty). */
  memFreeMiB: number | null;
  /** Non-engine CPU load 0..1; null when unknown. */
  cpuLoad: number | null;
  /** The engine VM as seen on this host. */
  engine: EngineHealth;
  /** The other hosts' blocks as read from the whiteboard this tick (own slot excluded). */
  remote: HostBlock[];
  /** hosted-engine.conf is current (else the not-up-to-date-config penalty). */
  configUpToDate: boolean;
  /** The engine VM's memory (MiB), for the free-memory penalty. */
  engineMemMiB: number;
  /** The outcome of the action the previous tick asked for, if any. */
  result?: ActionResult;
}

/** What the agent asks its adapters to do; the outcome comes back in the next tick's `result`. */
export type ActionKind = 'start-vm' | 'stop-vm' | 'poweroff-vm';

export interface ActionResult {
  kind: ActionKind;
  ok: boolean;
  /** What went wrong, for the log. */
  detail?: string;
  /** start-vm was not even tried: this host holds the engine VM lease (not this host's failure). */
  leaseHeldBy?: number;
}
