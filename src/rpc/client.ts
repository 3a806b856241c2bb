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
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        void stomp.deactivate();
        reject(new Error(why));
      };
      stomp.onConnect = () => {
        stomp.subscribe(client.replyTo, (m) => client.onReply(m));
        resolve(client);
      };
      stomp.onStompError = (frame: IFrame) => fail(`server error: ${frame.body || frame.headers.message}`);
      stomp.onWebSocketError = (ev: { message?: unknown }) =>
        fail(`cannot connect to ${options.host}:${options.port}: ${String(ev?.message ?? 'error')}`);
      stomp.onWebSocketClose = () => {
        const err = new Error('connection closed');
        for (const p of client.pending.values()) p.reject(err);
        client.pending.clear();
        fail(`connection to ${options.host}:${options.port} closed`);
      };
      stomp.activate();
    });
  }

  /** Calls a verb with named params; resolves with `result`, rejects with RemoteError for an error reply. */
  call(
    method: string,
    params: Record<string, unknown> = {},
    options: { flowId?: string; timeoutMs?: number } = {},
  ): Promise<unknown> {
    const id = randomUUID();
    const headers: Record<string, string> = { 'reply-to': this.replyTo, 'content-type': 'application/json' };
    if (options.flowId) headers.ovirtCorrelationId = options.flowId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(`Request ${method} with id ${id} timed out after ${(options.timeoutMs ?? 60_000) / 1000} seconds`),
        );
      }, options.timeoutMs ?? 60_000);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.stomp.publish({
        destination: DESTINATIONS.requests,
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
      });
    });
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
}
