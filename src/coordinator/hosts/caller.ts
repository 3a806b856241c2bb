/** How the host operations reach a host's vdsmd (HostConnections implements it; the operations only see this). */
import { PollFailure } from '../core/env.js';

export interface HostAddress {
  address: string;
  port: number;
}

export interface CallOptions {
  /** The whole call, connecting included. */
  timeoutMs: number;
  /** The leader term's: when it fires the call ends at once and rejects with its reason. */
  signal: AbortSignal;
}

/** A VM's status as a host's VM_status event reports it. */
export type VmStatusListener = (host: string, vmId: string, status: string) => void;

export interface HostCaller {
  call(host: string, method: string, params: Record<string, unknown>, options: CallOptions): Promise<unknown>;
  address(host: string): HostAddress | undefined;
  /** Hears every VM_status event of every host; returns the unsubscribe. */
  onVmStatus(listener: VmStatusListener): () => void;
}

/**
 * Why a call got no answer it could use:
 * - refused: the connection was refused (the host is there, its vdsmd is not);
 * - unreachable: no connection for another reason (TLS refused, reset, no route, no handshake in time);
 * - timeout: connected (or connecting), but no answer within the bound;
 * - closed: the connection broke while the call waited;
 * - remote: vdsmd answered with an error (`code` is vdsm's);
 * - unknown-host: no address is known for the host.
 */
export type HostCallFailure = 'refused' | 'unreachable' | 'timeout' | 'closed' | 'remote' | 'unknown-host';

export class HostCallError extends Error {
  constructor(
    readonly kind: HostCallFailure,
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'HostCallError';
  }
}

/** The core's view of a failed poll: refused when the port refused, timeout for everything else. */
export function pollFailure(err: unknown): PollFailure {
  return new PollFailure(err instanceof HostCallError && err.kind === 'refused' ? 'refused' : 'timeout');
}
