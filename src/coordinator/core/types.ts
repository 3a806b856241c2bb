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

/** A host's state as people see it: `Initializing` is a host added at runtime that has not answered yet. */
export const HOST_VIEW_STATES = [...HOST_STATUSES, 'Initializing'] as const;
export type HostViewState = (typeof HOST_VIEW_STATES)[number];

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
export const PROXY_SOURCES = ['cluster', 'dc'] as const;
export type ProxySource = (typeof PROXY_SOURCES)[number];
export const DEFAULT_PROXY_PREFERENCE: readonly ProxySource[] = ['cluster', 'dc'];

export interface HostSpec {
  id: string;
  cluster: string;
  /** Empty: no power management; the host is never hard-fenced. */
  agents: readonly FenceAgentRef[];
  /**
   * Where its fence proxy may come from, in order, as the engine's FenceProxyDefaultPreferences: `cluster` (an Up host
   * of its cluster) and `dc` (an Up host of any cluster: ours is one data center). Absent: cluster, then dc.
   */
  proxyPreference?: readonly ProxySource[];
  /** Put in maintenance by a person (persisted by the leader, `write-host`); absent: false. */
  maintenance?: boolean;
  /** false: added at runtime and not heard from yet (persisted, `write-host`); absent: it has been in service. */
  answered?: boolean;
  /** Activated, and its hosted-engine local maintenance not cleared yet (persisted, `write-host`). */
  haOffPending?: boolean;
}

/** What the store keeps of a host's state besides its inventory record (`host-state/<id>`). */
export type HostStateRecord = Required<Pick<HostSpec, 'maintenance'>> & Pick<HostSpec, 'answered' | 'haOffPending'>;

/** Hosted-engine HA as the host's Host.getStats `haStats` block reports it (absent when the host does not say). */
export interface HaSeen {
  configured: boolean;
  active: boolean;
  score: number;
  localMaintenance: boolean;
  globalMaintenance: boolean;
}

/** What `vm define` gives the core about a VM (its domain XML stays in the store, the core never needs it). */
export interface VmDefinition {
  id: string;
  ha: boolean;
  /** 0..100, higher first. */
  priority: number;
  memMiB: number;
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
  /** Hosted-engine HA as its last stats said (not configured when they said nothing); null: no stats yet. */
  ha: HaSeen | null;
  /**
   * Answered a poll at least once. A host added at runtime starts false: until it has answered, it is neither
   * fenced nor counted by the partition guard nor used as proxy, witness or target (a wrong address is not a
   * dead host). Hosts a leader finds in the store start true, as they were in service.
   */
  everUp: boolean;
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
  /** Down with an error exit (vdsm's exitCode 1: it crashed, or its start failed): the host's exit message. */
  error?: string;
}

export interface Poll {
  host: string;
  kind: 'ping' | 'stats';
  ok: boolean;
  error?: PollError;
  vms?: VmSeen[];
  freeMemMiB?: number;
  ha?: HaSeen;
}

export type Action =
  | { kind: 'probe'; id: number; host: string; via: string }
  | { kind: 'power'; id: number; host: string; proxy: string; op: 'status' | 'off' | 'on'; agents: FenceAgentRef[] }
  | { kind: 'ssh-restart'; id: number; host: string }
  | { kind: 'write-fence'; host: string; intent: FenceIntent | null }
  | { kind: 'write-vm'; vm: VmRecord }
  | { kind: 'scan'; id: number; hosts: string[] }
  | { kind: 'start-vm'; id: number; vm: string; host: string }
  /** VM.destroy: a stale copy of a VM that runs elsewhere, or the Down entry of a VM whose exit was read. */
  | { kind: 'destroy-vm'; id: number; vm: string; host: string; why: 'stale' | 'down' }
  /** VM.shutdown (clean), then VM.destroy once it is Down or the shutdown's bound passed: maintenance, `vm stop`. */
  | { kind: 'stop-vm'; id: number; vm: string; host: string }
  /** Host.setHaMaintenanceMode local on/off on a host that runs hosted-engine HA (maintenance, activate). */
  | { kind: 'set-ha-maintenance'; id: number; host: string; on: boolean }
  /** The leader's part of a host in the store (maintenance); null: the host was removed, drop its state and intent. */
  | { kind: 'write-host'; host: string; state: HostStateRecord | null }
  /** The VM record is deleted (`vm remove` of a stopped VM). */
  | { kind: 'remove-vm'; vm: string };

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
  | { kind: 'destroy-vm'; id: number; vm: string; host: string; why: 'stale' | 'down'; ok: boolean }
  | { kind: 'stop-vm'; id: number; vm: string; host: string; ok: boolean }
  | { kind: 'set-ha-maintenance'; id: number; host: string; on: boolean; ok: boolean };

/**
 * Operator commands, queued in the store by the CLI or the HTTP API of any replica and applied by the leader's core
 * (so that every change of what the core knows is a decision under the leader's epoch). `by` names the person.
 */
export type Command =
  | { kind: 'confirm-rebooted'; host: string; by: string }
  /** on: out of fencing and placement, its VMs moved away (refused while it runs VMs when keepVms). off: activate. */
  | { kind: 'maintenance'; host: string; on: boolean; by: string; keepVms?: boolean }
  /** The host's inventory record is already in the store; the core starts watching it (Up until polls say else). */
  | { kind: 'host-add'; spec: HostSpec; by: string }
  /** Refused unless in maintenance with no VM. */
  | { kind: 'host-remove'; host: string; by: string }
  /** The VM's definition (XML) is already in the store; the record starts `stopped`, owned by nobody. */
  | { kind: 'vm-define'; vm: VmDefinition; by: string }
  /** Placed like a recovered VM, or on `host` when given (refused if that host is not Up or lacks the memory). */
  | { kind: 'vm-start'; vm: string; host?: string; by: string }
  | { kind: 'vm-stop'; vm: string; by: string }
  /** Refused unless the VM is stopped, down or in error. */
  | { kind: 'vm-remove'; vm: string; by: string }
  /**
   * Queued by a replica whose term ended (it may no longer write the audit trail itself): `by` names that replica;
   * `refused` the writes it attempted under `epoch` after the end, `cutOff` the calls the end aborted; `etcd` what etcd
   * answered a transaction guarded by `epoch` sent afterwards (`refused`: the proof that its writes now fail).
   */
  | {
      kind: 'stepped-down';
      by: string;
      epoch: number;
      reason: string;
      refused: string[];
      cutOff: string[];
      etcd: 'refused' | 'held';
      /** The leader etcd named when asked (epoch and name), if any. */
      leader?: { epoch: number; name: string };
    };

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
  kind: 'guard' | 'fence' | 'vm' | 'command' | 'alert' | 'leadership';
  guard?: GuardName;
  /** Also raise an alert (every guard does). */
  alert: boolean;
  text: string;
}
