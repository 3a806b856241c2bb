import { randomUUID } from 'node:crypto';
import tls from 'node:tls';
import { Client, type IFrame, type IMessage, Versions } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';
import { DESTINATIONS } from './stomp/broker.js';

export interface ClientTls {
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
}

export interface VdsmClientOptions {
  host: string;
  port: number;
  /** Mutual TLS with our client certificate; omit for plaintext. */
  tls?: ClientTls;
  /** Heart-beat we want to receive, in ms (vdsm-client asks for 24000). */
  heartbeatIncomingMs?: number;
  connectTimeoutMs?: number;
  /** Ends a connect in progress: the promise rejects with the signal's reason and the socket is destroyed. */
  signal?: AbortSignal;
  /** Subscribes to `jms.queue.events` and hears each event (a JSON-RPC notification) by method and params. */
  onEvent?: (method: string, params: unknown) => void;
  /** Called once when an established connection closes (pending calls are rejected first). */
  onClose?: () => void;
}

/** A connection that could not be made; `code` is the socket's (ECONNREFUSED, ECONNRESET, ...) when it had one. */
export class ConnectError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}

export class RemoteError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

/**
 * The STOMP transport for stompjs over TCP or TLS. The TLS variant verifies the server's chain against our CA
 * but not its host name, as the engine does (vdsm certificates name the host, not the address we dial).
 */
export function socketFactory(host: string, port: number, tlsFiles?: ClientTls) {
  if (!tlsFiles) return () => new TCPWrapper(host, port);
  class TlsWrapper extends TCPWrapper {
    protected override getSocket(p: number, h: string) {
      return tls.connect({ port: p, host: h, ...tlsFiles, checkServerIdentity: () => undefined });
    }
  }
  return () => new TlsWrapper(host, port);
}

/**
 * A JSON-RPC client for vdsmd as vdsm-client and the HA tools use one: a private reply-to queue (a random UUID),
 * requests to `jms.topic.vdsm_requests`, replies matched by id.
 */
export class VdsmClient {
  private readonly stomp: Client;
  private readonly replyTo = randomUUID();
  private readonly pending = new Map<string, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(stomp: Client) {
    this.stomp = stomp;
  }

  static connect(options: VdsmClientOptions): Promise<VdsmClient> {
    const stomp = new Client({
      webSocketFactory: socketFactory(options.host, options.port, options.tls),
      stompVersions: new Versions([Versions.V1_2]),
      heartbeatIncoming: options.heartbeatIncomingMs ?? 24_000,
      heartbeatOutgoing: 0,
      reconnectDelay: 0,
      connectionTimeout: options.connectTimeoutMs ?? 10_000,
      debug: () => {},
    });
    const client = new VdsmClient(stomp);
    const { signal } = options;
    return new Promise((resolve, reject) => {
      let connected = false;
      const fail = (err: Error) => {
        signal?.removeEventListener('abort', aborted);
        void stomp.deactivate({ force: true });
        reject(err);
      };
      const aborted = () => fail(signal!.reason instanceof Error ? signal!.reason : new Error('connect aborted'));
      if (signal?.aborted) return aborted();
      signal?.addEventListener('abort', aborted, { once: true });
      stomp.onConnect = () => {
        signal?.removeEventListener('abort', aborted);
        connected = true;
        stomp.subscribe(client.replyTo, (m) => client.onReply(m));
        if (options.onEvent) stomp.subscribe(DESTINATIONS.events, (m) => onEventMessage(m, options.onEvent!));
        resolve(client);
      };
      stomp.onStompError = (frame: IFrame) => fail(new Error(`server error: ${frame.body || frame.headers.message}`));
      stomp.onWebSocketError = (ev: { message?: unknown }) => {
        const cause = ev?.message;
        const code = (cause as NodeJS.ErrnoException | undefined)?.code;
        fail(new ConnectError(`cannot connect to ${options.host}:${options.port}: ${String(cause ?? 'error')}`, code));
      };
      stomp.onWebSocketClose = () => {
        client.rejectPending(new Error('connection closed'));
        fail(new ConnectError(`connection to ${options.host}:${options.port} closed`));
        if (connected) options.onClose?.();
      };
      stomp.activate();
    });
  }

  /** Calls a verb with named params; resolves with `result`, rejects with RemoteError for an error reply. */
  call(
    method: string,
    params: Record<string, unknown> = {},
    options: { flowId?: string; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const id = randomUUID();
    const headers: Record<string, string> = { 'reply-to': this.replyTo, 'content-type': 'application/json' };
    if (options.flowId) headers.ovirtCorrelationId = options.flowId;
    const { signal } = options;
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        this.pending.delete(id);
      };
      const waiter = {
        resolve: (v: unknown) => (settle(), resolve(v)),
        reject: (e: Error) => (settle(), reject(e)),
      };
      const aborted = () => waiter.reject(signal!.reason instanceof Error ? signal!.reason : new Error('call aborted'));
      const timer = setTimeout(
        () =>
          waiter.reject(
            new Error(
              `Request ${method} with id ${id} timed out after ${(options.timeoutMs ?? 60_000) / 1000} seconds`,
            ),
          ),
        options.timeoutMs ?? 60_000,
      );
      if (signal?.aborted) return aborted();
      signal?.addEventListener('abort', aborted, { once: true });
      this.pending.set(id, waiter);
      try {
        this.stomp.publish({
          destination: DESTINATIONS.requests,
          headers,
          body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        });
      } catch (err) {
        waiter.reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private rejectPending(err: Error): void {
    for (const p of [...this.pending.values()]) p.reject(err);
  }

  private onReply(message: IMessage): void {
    let reply: { id?: string; result?: unknown; error?: { code: number; message: string } };
    try {
      reply = JSON.parse(message.body);
    } catch {
      return;
    }
    const waiter = reply.id === undefined ? undefined : this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id!);
    if (reply.error) waiter.reject(new RemoteError(reply.error.code, reply.error.message));
    else waiter.resolve(reply.result);
  }

  async close(): Promise<void> {
    this.stomp.onWebSocketClose = () => {};
    await this.stomp.deactivate();
  }

  /** Drops the connection without a DISCONNECT (the peer may not answer one): pending calls reject at once. */
  async destroy(): Promise<void> {
    this.stomp.onWebSocketClose = () => {};
    this.rejectPending(new Error('connection closed'));
    await this.stomp.deactivate({ force: true });
  }
}

/** Events are JSON-RPC notifications: a method and params, no id. */
function onEventMessage(message: IMessage, onEvent: (method: string, params: unknown) => void): void {
  let body: unknown;
  try {
    body = JSON.parse(message.body);
  } catch {
    return;
  }
  for (const n of Array.isArray(body) ? body : [body]) {
    const e = n as { method?: unknown; params?: unknown; id?: unknown } | null;
    if (e && typeof e.method === 'string' && e.id === undefined) onEvent(e.method, e.params);
  }
}
