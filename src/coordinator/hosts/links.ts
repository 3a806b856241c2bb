/**
 * The host half of the coordinator's I/O (CoordinatorEnv's host calls): one vdsmd link per host
 * (HostConnections) and the calls made over it, each with its bound and the leader term's AbortSignal.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ClientTls } from '../../rpc/client.js';
import type { HostStats } from '../core/env.js';
import type { Power, VmSeen } from '../core/types.js';
import type { FenceAgentRecord } from '../inventory/records.js';
import type { SecretFiles } from '../secrets.js';
import type { HostAddress, VmStatusListener } from './caller.js';
import { HostConnections } from './connections.js';
import { fence, type FenceOp } from './fence.js';
import { probe, setHaMaintenance } from './peer.js';
import { listVms, ping, stats } from './polls.js';
import { createVm, destroyVm, stopVm } from './vms.js';

/** Milliseconds each call may take, connecting included. */
export interface HostBounds {
  /** Host.ping2 (the engine's bound: 2 s). */
  pingMs: number;
  /** Host.getStats and Host.getAllVmStats together. */
  statsMs: number;
  listMs: number;
  createMs: number;
  destroyMs: number;
  /** How long a VM.shutdown gets before VM.destroy. */
  shutdownMs: number;
  /** Between two looks at a VM being shut down (VM_status events wake it earlier). */
  stopPollMs: number;
  haMs: number;
  /** Host.fenceNode: off and on return once the agent has confirmed the new state. */
  fenceMs: number;
  /** What the witness is given for its Host.ping2 to the target (Host.probePeer's timeoutMs). */
  probeMs: number;
}

export const DEFAULT_HOST_BOUNDS: HostBounds = {
  pingMs: 2000,
  statsMs: 10_000,
  listMs: 10_000,
  createMs: 30_000,
  destroyMs: 30_000,
  shutdownMs: 60_000,
  stopPollMs: 2000,
  haMs: 30_000,
  fenceMs: 120_000,
  probeMs: 3000,
};

export interface HostLinksOptions {
  /** The coordinator's client key and certificate (the engine's role) and the hosts' CA; null: plaintext. */
  tls: ClientTls | null;
  secrets: SecretFiles;
  log: Logger;
  connectTimeoutMs?: number;
  bounds?: Partial<HostBounds>;
  /** Every VM_status event of every linked host (the service turns it into an early stats poll). */
  onVmStatus?: VmStatusListener;
}

/** Reads the coordinator's client TLS files. */
export async function readClientTls(files: { key: string; cert: string; ca: string }): Promise<ClientTls> {
  const [key, cert, ca] = await Promise.all([readFile(files.key), readFile(files.cert), readFile(files.ca)]);
  return { key, cert, ca };
}

export class HostLinks {
  readonly connections: HostConnections;
  readonly bounds: HostBounds;
  private readonly log: Logger;

  constructor(private readonly options: HostLinksOptions) {
    this.log = options.log;
    this.bounds = { ...DEFAULT_HOST_BOUNDS, ...options.bounds };
    this.connections = new HostConnections({
      tls: options.tls,
      log: options.log,
      connectTimeoutMs: options.connectTimeoutMs,
    });
    if (options.onVmStatus) this.connections.onVmStatus(options.onVmStatus);
  }

  setHost(host: string, address: HostAddress): void {
    this.connections.setHost(host, address);
  }

  removeHost(host: string): void {
    this.connections.removeHost(host);
  }

  close(): void {
    this.connections.close();
  }

  ping(host: string, signal: AbortSignal): Promise<void> {
    return ping(this.connections, host, this.bounds.pingMs, signal);
  }

  stats(host: string, signal: AbortSignal): Promise<HostStats> {
    return stats(this.connections, host, this.bounds.statsMs, signal);
  }

  listVms(host: string, signal: AbortSignal): Promise<VmSeen[] | null> {
    return listVms(this.connections, host, this.bounds.listMs, signal);
  }

  createVm(
    host: string,
    vm: { id: string; xml: string },
    signal: AbortSignal,
  ): Promise<{ ok: boolean; detail?: string }> {
    return createVm(this.connections, host, vm, this.bounds.createMs, signal);
  }

  destroyVm(host: string, vmId: string, signal: AbortSignal): Promise<boolean> {
    return destroyVm(this.connections, host, vmId, this.bounds.destroyMs, signal);
  }

  stopVm(host: string, vmId: string, signal: AbortSignal): Promise<boolean> {
    const b = this.bounds;
    return stopVm(
      this.connections,
      host,
      vmId,
      { callMs: b.destroyMs, shutdownMs: b.shutdownMs, pollMs: b.stopPollMs },
      signal,
    );
  }

  setHaMaintenance(host: string, on: boolean, signal: AbortSignal): Promise<boolean> {
    return setHaMaintenance(this.connections, this.log, host, on, this.bounds.haMs, signal);
  }

  fence(
    proxy: string,
    target: string,
    agent: FenceAgentRecord,
    op: FenceOp,
    signal: AbortSignal,
    storageHostIds?: Record<string, number>,
  ): Promise<Power> {
    const call = { proxy, target, agent, op, ...(storageHostIds ? { storageHostIds } : {}) };
    return fence(this.connections, this.options.secrets, this.log, call, this.bounds.fenceMs, signal);
  }

  probe(via: string, target: string, signal: AbortSignal): Promise<boolean | null> {
    return probe(this.connections, this.log, via, target, this.bounds.probeMs, signal);
  }
}
