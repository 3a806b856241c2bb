/**
 * Everything the coordinator does to the world, behind one interface (as Proxmox's ha-manager puts its I/O
 * behind an Env): the hosts' RPC, fencing through a proxy host, the SSH restart, the store (etcd in production:
 * the fence intents, the VM records, the audit log, operator commands) with epoch-guarded writes, and the clock.
 * The core (step.ts) never sees it; the driver (coordinator.ts) does. test/coordinator/simulator.ts implements
 * it on simulated time.
 */
import type { StoreSnapshot } from './step.js';
import type {
  AuditEvent,
  Command,
  FenceAgentRef,
  FenceIntent,
  HaSeen,
  HostStateRecord,
  PollError,
  Power,
  VmRecord,
  VmSeen,
} from './types.js';

export interface CoordinatorLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

/** A poll that did not answer: refused (the host is there, vdsmd is not) or timed out (host or path dead). */
export class PollFailure extends Error {
  constructor(readonly reason: PollError) {
    super(`poll failed: ${reason}`);
  }
}

export interface HostStats {
  freeMemMiB: number;
  vms: VmSeen[];
  /** From getStats' haStats; absent when the host reports none. */
  ha?: HaSeen;
}

export interface CoordinatorEnv {
  readonly log: CoordinatorLog;
  /** Monotonic seconds. */
  now(): number;
  /** Waits `seconds`; returns early once `signal` aborts. */
  sleep(seconds: number, signal: AbortSignal): Promise<void>;

  // --- leadership and the store (src/coordinator/etcd/ implements these on etcd) ---
  /** This replica's leadership as it stands: the fencing token (create revision of its leader key), since when. */
  leadership(): Promise<{ epoch: number; since: number } | null>;
  /** The inventory, the fence intents and the VM records, read once when this replica becomes leader. */
  load(): Promise<StoreSnapshot>;
  /** Transactions guarded by `createRevision(leader key) == epoch`: false means nothing was written (stale). */
  writeFence(epoch: number, host: string, intent: FenceIntent | null): Promise<boolean>;
  writeVm(epoch: number, vm: VmRecord): Promise<boolean>;
  /** The leader's part of a host (maintenance); null: the host was removed (its state and fence intent go too). */
  writeHost(epoch: number, host: string, state: HostStateRecord | null): Promise<boolean>;
  /** Deletes a VM's record (and its definition) under the guard. */
  removeVm(epoch: number, vm: string): Promise<boolean>;
  /** The same guard writing nothing: proves leadership right before a side effect that has no write of its own. */
  confirmEpoch(epoch: number): Promise<boolean>;
  /** Appends to the audit log (guarded too); alerts go out from there. */
  audit(epoch: number, event: AuditEvent): Promise<void>;
  /** Operator commands waiting (confirm-rebooted, maintenance); each is returned once. */
  commands(): Promise<Command[]>;

  // --- the hosts ---
  /** Host.ping2; rejects with PollFailure. */
  ping(host: string): Promise<void>;
  /** Host.getStats and Host.getAllVmStats; rejects with PollFailure. */
  stats(host: string): Promise<HostStats>;
  /** Asks `via` whether it reaches `target`'s vdsmd; null: `via` did not answer. */
  probe(via: string, target: string): Promise<boolean | null>;
  /** Host.fenceNode on `proxy` for one agent of `target` (the epoch goes to hosts that check it). */
  fence(
    proxy: string,
    target: string,
    agent: FenceAgentRef,
    op: 'status' | 'off' | 'on',
    epoch: number,
  ): Promise<Power>;
  /** SSH to `host`, run its restart command; ok = exit 0. */
  sshRestart(host: string): Promise<{ ok: boolean; detail?: string }>;
  /** Host.getAllVmStats right before starting anything; null: no answer. */
  listVms(host: string): Promise<VmSeen[] | null>;
  /** VM.create with the VM's saved definition. */
  createVm(host: string, vm: VmRecord, epoch: number): Promise<{ ok: boolean; detail?: string }>;
  /** VM.destroy of a stale copy. */
  destroyVm(host: string, vm: string, epoch: number): Promise<boolean>;
  /** VM.shutdown, then VM.destroy when it is not Down within the bound; true once the host no longer runs it. */
  stopVm(host: string, vm: string, epoch: number): Promise<boolean>;
  /** Host.setHaMaintenanceMode(mode local, enabled on) on `host`. */
  setHaMaintenance(host: string, on: boolean): Promise<boolean>;
}
