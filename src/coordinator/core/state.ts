/** The core's own state (what a leader knows between steps), and the records a leader starts from. */
import type { Action, AuditEvent, FenceFlow, FenceIntent, HostSpec, HostState, VmRecord } from './types.js';

export interface CoreState {
  /** The fencing token this state acts under; null: not leader (no actions at all). */
  epoch: number | null;
  leaderSince: number | null;
  /** When every host (not in maintenance) had answered or failed one poll under this leadership. */
  roundDoneAt: number | null;
  polledSinceLeader: string[];
  hosts: Record<string, HostState>;
  vms: Record<string, VmRecord>;
  seq: number;
  scan: { id: number; at: number } | null;
  /** VM.shutdowns asked for, by VM id (not persisted: the VM records and host states say what is wanted). */
  stops: Record<string, VmStop>;
  /** Host.setHaMaintenanceMode (local) asked for, by host id. */
  haOps: Record<string, HaOp>;
}

/**
 * One VM to shut down on `host`: `move` (its host is in maintenance: it starts again on another host once it is
 * down) or `stop` (a person stopped it: it stays stopped, HA or not).
 */
export interface VmStop {
  host: string;
  why: 'move' | 'stop';
  /** Who asked (null: a former leader's request, found again in the records). */
  by: string | null;
  /** The stop-vm action whose result this waits for. */
  awaiting: number | null;
  /** Failed tries so far. */
  attempts: number;
  /** Not before this (retry spacing; a move waits for room on another host). */
  nextAt: number;
  /** A move found no other host with room (said once until it finds one). */
  noRoom: boolean;
}

/** Hosted-engine local maintenance to set on a host (maintenance on) or clear (activate). */
export interface HaOp {
  on: boolean;
  by: string | null;
  awaiting: number | null;
  attempts: number;
  nextAt: number;
  done: boolean;
  /** Only when the host does not already say so (a new leader restoring a host in maintenance). */
  unlessSeen: boolean;
}

export interface StepResult {
  state: CoreState;
  actions: Action[];
  audit: AuditEvent[];
  log: string[];
}

/** What a leader finds in the store when it starts: the inventory, the fence intents, the VM records. */
export interface StoreSnapshot {
  hosts: readonly HostSpec[];
  intents: Readonly<Record<string, FenceIntent>>;
  vms: readonly VmRecord[];
}

/** A host as a leader first sees it: Up, its grace counted from now. */
export function freshHost(spec: HostSpec, now: number): HostState {
  return {
    spec,
    status: 'Up',
    since: now,
    lastOk: now,
    failures: 0,
    lastError: null,
    vmCount: 0,
    freeMemMiB: 0,
    vmsSeen: [],
    polledAt: null,
    flow: null,
    returns: [],
    lastPowerAt: null,
    rebootUntil: null,
    guard: null,
    recheckAt: null,
    manual: null,
    ha: null,
    everUp: true,
  };
}

export function newFlow(step: FenceFlow['step'], now: number): FenceFlow {
  return {
    step,
    startedAt: now,
    awaiting: null,
    nextAt: now,
    proxy: null,
    tried: [],
    proxyErrors: 0,
    group: 0,
    tries: 0,
    unknowns: 0,
    offSent: false,
    offSeenAt: null,
    witnessesPending: [],
    witnessReached: false,
  };
}
