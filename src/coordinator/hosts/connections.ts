/**
 * One vdsmd connection per host, as the engine keeps one: made on first use (mutual TLS with the coordinator's
 * client certificate, or plaintext only when so configured), subscribed to the host's events, dropped when it breaks
 * or a call gets no answer, and made again by the next call. Every call is bounded, connecting included, and ends
 * at once when the caller's signal fires.
 */
import type { Logger } from 'pino';
import { type ClientTls, ConnectError, RemoteError, VdsmClient } from '../../rpc/client.js';
import { bound } from './bound.js';
import { type CallOptions, type HostAddress, type HostCaller, HostCallError, type VmStatusListener } from './caller.js';

export interface HostConnectionsOptions {
  /** The coordinator's client key and certificate and the hosts' CA; null: plaintext (only when configured). */
  tls: ClientTls | null;
  log: Logger;
  /** Bound of one connection attempt, shared by the calls waiting for it (default 5 s). */
  connectTimeoutMs?: number;
}

interface Link {
  client: Promise<VdsmClient>;
  /** Set once connected. */
  ready?: VdsmClient;
  /** Ends a connect in progress. */
  stop: AbortController;
  dropped: boolean;
}

const VM_STATUS = /^\|virt\|VM_status\|/;

export class HostConnections implements HostCaller {
  private readonly addresses = new Map<string, HostAddress>();
  private readonly links = new Map<string, Link>();
  private readonly listeners = new Set<VmStatusListener>();
  private closed = false;

  constructor(private readonly options: HostConnectionsOptions) {}

  /** Where a host's vdsmd listens; a changed address drops the link. */
  setHost(host: string, address: HostAddress): void {
    const old = this.addresses.get(host);
    this.addresses.set(host, { ...address });
    if (old && (old.address !== address.address || old.port !== address.port)) this.drop(host);
  }

  removeHost(host: string): void {
    this.addresses.delete(host);
    this.drop(host);
  }

  address(host: string): HostAddress | undefined {
    return this.addresses.get(host);
  }

  onVmStatus(listener: VmStatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async call(host: string, method: string, params: Record<string, unknown>, o: CallOptions): Promise<unknown> {
    o.signal.throwIfAborted();
    const b = bound(o.signal, o.timeoutMs);
    const noAnswer = () => new HostCallError('timeout', `${host}: no answer to ${method} within ${o.timeoutMs} ms`);
    try {
      const link = this.link(host);
      let client: VdsmClient;
      try {
        client = await untilAborted(link.client, b.signal);
      } catch (err) {
        if (o.signal.aborted) throw o.signal.reason;
        if (b.timedOut()) throw noAnswer();
        throw err;
      }
      try {
        return await client.call(method, params, { timeoutMs: o.timeoutMs, signal: b.signal });
      } catch (err) {
        if (o.signal.aborted) throw o.signal.reason;
        if (err instanceof RemoteError)
          throw new HostCallError('remote', `${host}: ${method}: ${err.message}`, err.code);
        // No answer in time, or the connection broke: the link is not trusted any more.
        this.drop(host, link);
        if (b.timedOut()) throw noAnswer();
        throw new HostCallError('closed', `${host}: the connection closed during ${method}`);
      }
    } finally {
      b.done();
    }
  }

  /** Drops every link; calls after this fail. */
  close(): void {
    this.closed = true;
    for (const host of [...this.links.keys()]) this.drop(host);
  }

  private link(host: string): Link {
    const existing = this.links.get(host);
    if (existing) return existing;
    if (this.closed) throw new HostCallError('unreachable', 'the host connections are closed');
    const addr = this.addresses.get(host);
    if (!addr) throw new HostCallError('unknown-host', `no address known for host ${host}`);
    const connectMs = this.options.connectTimeoutMs ?? 5000;
    const stop = new AbortController();
    const connectBound = bound(stop.signal, connectMs);
    const link: Link = { stop, dropped: false, client: undefined as unknown as Promise<VdsmClient> };
    link.client = VdsmClient.connect({
      host: addr.address,
      port: addr.port,
      tls: this.options.tls ?? undefined,
      connectTimeoutMs: connectMs,
      signal: connectBound.signal,
      onEvent: (method, params) => this.event(host, method, params),
      onClose: () => {
        this.options.log.info({ host }, 'host link closed');
        this.drop(host, link);
      },
    }).then(
      (client) => {
        connectBound.done();
        link.ready = client;
        if (link.dropped) void client.destroy();
        else this.options.log.info({ host, address: addr.address, port: addr.port }, 'host link up');
        return client;
      },
      (err: unknown) => {
        connectBound.done();
        this.drop(host, link);
        throw connectFailure(host, addr, connectMs, err);
      },
    );
    link.client.catch(() => {});
    this.links.set(host, link);
    return link;
  }

  private drop(host: string, link = this.links.get(host)): void {
    if (!link) return;
    if (this.links.get(host) === link) this.links.delete(host);
    if (link.dropped) return;
    link.dropped = true;
    link.stop.abort();
    if (link.ready) void link.ready.destroy();
  }

  private event(host: string, method: string, params: unknown): void {
    if (!VM_STATUS.test(method) || typeof params !== 'object' || params === null) return;
    for (const [vmId, v] of Object.entries(params)) {
      const status = (v as { status?: unknown } | null)?.status;
      if (typeof status !== 'string') continue;
      for (const listener of this.listeners) {
        try {
          listener(host, vmId, status);
        } catch (err) {
          this.options.log.warn({ host, vmId, err: String(err) }, 'VM_status listener failed');
        }
      }
    }
  }
}

function connectFailure(host: string, addr: HostAddress, connectMs: number, err: unknown): HostCallError {
  const where = `${host} (${addr.address}:${addr.port})`;
  if (err instanceof ConnectError && err.code === 'ECONNREFUSED')
    return new HostCallError('refused', `${where}: connection refused`);
  if ((err as Error)?.name === 'TimeoutError')
    return new HostCallError('unreachable', `${where}: no connection within ${connectMs} ms`);
  return new HostCallError('unreachable', `${where}: ${(err as Error)?.message ?? String(err)}`);
}

/** `p`, or a rejection with the signal's reason as soon as it fires. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}
