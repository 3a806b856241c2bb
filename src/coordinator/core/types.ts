/** The coordinator core's vocabulary (docs/coordinator.md). No I/O here: state, observations, actions, audit. */

/** Per-host states; the arrows are in docs/coordinator.md, "The per-host state machine". */
export const HOST_STATUSES = [
  'Up',
  'Suspect',
  'NonResponsive',
  'SoftFencing',
  'HardFencing',
  'PowerOffConfirmed',
  'RecoveringVMs',
  'Rebooting',
  'Down',
  'FenceSkipped',
  'FenceFailed',
  'AwaitingManualConfirm',
  'Maintenance',
] as const;
export type HostStatus = (typeof HOST_STATUSES)[number];

/** Why a fence did not happen (each one is an audit event and an alert). */
export type GuardName =
  | 'not-leader'
  | 'new-leader'
  | 'partition'
  | 'witness'
  | 'no-witness'
  | 'fencing-disabled'
  | 'flapping'
  | 'policy'
  | 'no-pm'
  | 'no-proxy'
  | 'answers';

/** One fence agent of a host (Host.fenceNode parameters without secrets); equal `order` = a concurrent group. */
export interface FenceAgentRef {
  name: string;
  order: number;
}

/** What the inventory says about a host (from the store; the core never invents hosts). */
export interface HostSpec {
  id: string;
  cluster: string;
  /** Empty: no power management; the host is never hard-fenced. */
  agents: readonly FenceAgentRef[];
}

export type FenceStep =
  'witness' | 'soft-status' | 'ssh' | 'soft-wait' | 'status' | 'off' | 'confirm' | 'policy-wait' | 'quiet-wait';

/** A fence flow in progress (persisted as the host's intent; the intent key is the one-flow-per-host lock). */
export interface FenceFlow {
  step: FenceStep;
  startedAt: number;
  /** The action whose result the flow waits for (results with another id are stale and dropped). */
  awaiting: number | null;
  /** When the step may act next (poll spacing, deadlines). */
  nextAt: number;
  proxy: string | null;
  /** Proxies that failed in this flow (each error switches once). */
  tried: string[];
  proxyErrors: number;
  /** Index of the agent group (by `order`) being used. */
  group: number;
  tries: number;
  unknowns: number;
  offSent: boolean;
  /** A status OFF seen before any `off` (power loss): the next OFF reading confirms it. */
  offSeenAt: number | null;
  witnessesPending: string[];
  witnessReached: boolean;
}

export interface HostState {
  spec: HostSpec;
  status: HostStatus;
  since: number;
  lastOk: number;
  failures: number;
  lastError: PollError | null;
  /** Running VMs at the last good stats (for the grace period). */
  vmCount: number;
  freeMemMiB: number;
  /** Known running VM ids on the host, from the last good stats. */
  vmsSeen: string[];
  polledAt: number | null;
  flow: FenceFlow | null;
  /** Times the host came back Up from NonResponsive or later (for flapping). */
  returns: number[];
  lastPowerAt: number | null;
  rebootUntil: number | null;
  /** The guard last audited for this host, so one cause is reported once. */
  guard: GuardName | null;
  /** FenceSkipped: when to look at the host again. */
  recheckAt: number | null;
  manual: { by: string; at: number } | null;
}

export type VmState = 'running' | 'stopped' | 'error' | 'unknown' | 'down' | 'starting';

/** What the store keeps per VM (`/vdsm-ts/vms/<id>` in the design). */
export interface VmRecord {
  id: string;
  ha: boolean;
  /** 0..100, higher first. */
  priority: number;
  memMiB: number;
  owner: string | null;
  state: VmState;
  everUp: boolean;
  generation: number;
  /** Recovery asked to bring it back running (HA, or `all` and it was running). */
  restart: boolean;
  /** The fenced host it is being recovered from (null: not in recovery). */
  from: string | null;
  /** Recovery bookkeeping: when it was queued, failed starts, next try, and when a start was sent. */
  queuedAt: number | null;
  attempts: number;
  nextTryAt: number | null;
  startSentAt: number | null;
}

/** A VM's recovery bookkeeping when it is not being recovered (running where it is, or never asked back). */
export const NOT_IN_RECOVERY = {
  restart: false,
  from: null,
  queuedAt: null,
  attempts: 0,
  nextTryAt: null,
  startSentAt: null,
} as const satisfies Partial<VmRecord>;

export type PollError = 'refused' | 'timeout';
export type Power = 'on' | 'off' | 'unknown' | 'error' | 'skipped';

/** A VM as a host lists it (Host.getAllVmStats / getStats). */
export interface VmSeen {
  id: string;
  status: string;
}

export interface Poll {
  host: string;
  kind: 'ping' | 'stats';
  ok: boolean;
  error?: PollError;
  vms?: VmSeen[];
  freeMemMiB?: number;
}

export type Action =
  | { kind: 'probe'; id: number; host: string; via: string }
  | { kind: 'power'; id: number; host: string; proxy: string; op: 'status' | 'off' | 'on'; agents: FenceAgentRef[] }
  | { kind: 'ssh-restart'; id: number; host: string }
  | { kind: 'write-fence'; host: string; intent: FenceIntent | null }
  | { kind: 'write-vm'; vm: VmRecord }
  | { kind: 'scan'; id: number; hosts: string[] }
  | { kind: 'start-vm'; id: number; vm: string; host: string }
  | { kind: 'destroy-vm'; id: number; vm: string; host: string };

/** What the store keeps per host under fence (`/vdsm-ts/hosts/<id>/fence`). */
export interface FenceIntent {
  phase: 'fencing' | 'off-sent' | 'off-confirmed' | 'failed';
  startedAt: number;
  manual?: { by: string; at: number };
}

export type Result =
  | { kind: 'probe'; id: number; host: string; via: string; reached: boolean | null }
  | { kind: 'power'; id: number; host: string; proxy: string; op: 'status' | 'off' | 'on'; power: Power[] }
  | { kind: 'ssh-restart'; id: number; host: string; ok: boolean; detail?: string }
  | { kind: 'scan'; id: number; lists: Record<string, VmSeen[] | null> }
  | { kind: 'start-vm'; id: number; vm: string; host: string; ok: boolean; detail?: string }
  | { kind: 'destroy-vm'; id: number; vm: string; host: string; ok: boolean };

export type Command =
  { kind: 'confirm-rebooted'; host: string; by: string } | { kind: 'maintenance'; host: string; on: boolean };

export interface Observations {
  now: number;
  /** This replica's leadership: the fencing token (create revision of the leader key) and since when; null: not leader. */
  leader: { epoch: number; since: number } | null;
  polls: Poll[];
  results: Result[];
  commands: Command[];
}

export interface AuditEvent {
  at: number;
  host?: string;
  kind: 'guard' | 'fence' | 'vm' | 'command' | 'alert';
  guard?: GuardName;
  /** Also raise an alert (every guard does). */
  alert: boolean;
  text: string;
}
