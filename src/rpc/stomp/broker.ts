import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { type ConnectionHost, type ConnectionLimits, StompConnection, type Subscription } from './connection.js';
import { encodeFrame, type Frame } from './frame.js';
import { DEFAULT_LIMITS } from './parser.js';

export const DESTINATIONS = {
  requests: 'jms.topic.vdsm_requests',
  irsRequests: 'jms.topic.vdsm_irs_requests',
  responses: 'jms.topic.vdsm_responses',
  irsResponses: 'jms.topic.vdsm_irs_responses',
  events: 'jms.queue.events',
} as const;

/** What the broker knows about a request when it hands the body to the RPC layer. */
export interface RequestMeta {
  /** `ovirtCorrelationId`: the engine's flow id, logged with the request. */
  flowId?: string;
  remoteAddress?: string;
  localAddress?: string;
  /** The reply-to is one of the engine's response queues. */
  engineReadsReply?: boolean;
}

/** Executes one JSON-RPC message and returns the reply text, or null when nothing is to be answered. */
export type RequestHandler = (body: string, meta: RequestMeta) => Promise<string | null>;

export interface BrokerOptions {
  log: Logger;
  onRequest: RequestHandler;
  requestQueues?: string[];
  limits?: Partial<ConnectionLimits>;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  ...DEFAULT_LIMITS,
  pauseAboveBytes: 1024 * 1024,
  dropAboveBytes: 64 * 1024 * 1024,
  maxInFlight: 1024,
};

/**
 * The STOMP side of vdsmd: keeps the connections and the subscription index, executes SENDs to the request
 * queues, routes each reply to the subscribers of that request's `reply-to`, fans other SENDs out by
 * destination prefix, and publishes events to `jms.queue.events`.
 */
export class StompBroker implements ConnectionHost {
  readonly log: Logger;
  readonly limits: ConnectionLimits;
  private readonly connections = new Set<StompConnection>();
  private readonly byDestination = new Map<string, Set<Subscription>>();
  /** For each SEND destination seen: the subscription sets of it and its dot-prefixes (reset on (un)subscribe). */
  private readonly fanOutCache = new Map<string, Set<Subscription>[]>();
  private readonly requestQueues: string[];
  private readonly onRequest: RequestHandler;

  constructor(options: BrokerOptions) {
    this.log = options.log;
    this.onRequest = options.onRequest;
    this.requestQueues = options.requestQueues ?? [DESTINATIONS.requests, DESTINATIONS.irsRequests];
    this.limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Takes over a socket whose first bytes (already read by protocol detection) are `head`. */
  attach(socket: Socket, head: Buffer): StompConnection {
    const conn = new StompConnection(socket, this);
    this.connections.add(conn);
    this.log.debug({ conn: conn.id, remote: conn.remote }, 'stomp client connected');
    if (head.length > 0) conn.onData(head);
    socket.resume();
    return conn;
  }

  subscribe(sub: Subscription): void {
    let set = this.byDestination.get(sub.destination);
    if (!set) this.byDestination.set(sub.destination, (set = new Set()));
    set.add(sub);
    this.fanOutCache.clear();
  }

  unsubscribe(sub: Subscription): void {
    const set = this.byDestination.get(sub.destination);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) this.byDestination.delete(sub.destination);
    this.fanOutCache.clear();
  }

  closed(conn: StompConnection): void {
    for (const sub of conn.subscriptions.values()) this.unsubscribe(sub);
    conn.subscriptions.clear();
    this.connections.delete(conn);
    this.log.debug({ conn: conn.id }, 'stomp client disconnected');
  }

  send(conn: StompConnection, frame: Frame): void {
    const destination = frame.headers.destination;
    if (!destination) return conn.sendError('Missing destination header');
    if (this.isRequestQueue(destination)) {
      this.fanOut(destination, frame);
      this.execute(conn, frame);
    } else if (this.fanOut(destination, frame) === 0) {
      conn.sendError('Subscription not available');
    }
  }

  /** Sends an event (a JSON-RPC notification text) to every subscriber of `jms.queue.events`. */
  publishEvent(json: string): number {
    const subs = this.byDestination.get(DESTINATIONS.events);
    if (!subs) return 0;
    for (const sub of subs) sub.conn.sendJson(sub.destination, sub.id, json);
    return subs.size;
  }

  /** Closes every client connection (server shutdown). */
  closeAll(): void {
    for (const conn of this.connections) conn.destroy();
  }

  private isRequestQueue(destination: string): boolean {
    return this.requestQueues.some((q) => destination === q || destination.startsWith(q + '.'));
  }

  private execute(conn: StompConnection, frame: Frame): void {
    // Unlike vdsm (one id -> reply-to map shared by all connections), the reply-to travels with the request.
    const replyTo = frame.headers['reply-to'] || DESTINATIONS.responses;
    const meta: RequestMeta = {
      flowId: frame.headers.ovirtCorrelationId,
      remoteAddress: conn.socket.remoteAddress,
      localAddress: conn.socket.localAddress,
      engineReadsReply: replyTo === DESTINATIONS.responses || replyTo === DESTINATIONS.irsResponses,
    };
    conn.requestStarted();
    this.onRequest(frame.body.toString('utf8'), meta).then(
      (reply) => {
        conn.requestFinished();
        if (reply !== null) this.deliverReply(conn, replyTo, reply);
      },
      (err: unknown) => {
        conn.requestFinished();
        this.log.error({ err }, 'request handler failed');
      },
    );
  }

  /**
   * A reply goes to the requesting connection's subscriptions of its reply-to. Only when that connection has
   * none do other connections' subscribers of the destination get it (vdsm broadcasts to all of them always,
   * so two engines see each other's replies; we do not).
   */
  private deliverReply(conn: StompConnection, replyTo: string, json: string): void {
    const subs = this.byDestination.get(replyTo);
    if (!subs) {
      this.log.debug({ conn: conn.id, replyTo }, 'reply dropped: nobody subscribed to its reply-to');
      return;
    }
    let own = 0;
    for (const sub of subs) {
      if (sub.conn === conn) {
        conn.sendJson(sub.destination, sub.id, json);
        own++;
      }
    }
    if (own === 0) for (const sub of subs) sub.conn.sendJson(sub.destination, sub.id, json);
  }

  /** Delivers a SEND to subscribers of its destination or of any dot-separated prefix of it. */
  private fanOut(destination: string, frame: Frame): number {
    let delivered = 0;
    for (const subs of this.fanOutTargets(destination)) {
      for (const sub of subs) {
        const headers: Record<string, string> = { ...frame.headers, subscription: sub.id };
        delete headers['content-length'];
        delete headers.receipt;
        sub.conn.write(encodeFrame('MESSAGE', headers, frame.body));
        delivered++;
      }
    }
    return delivered;
  }

  private fanOutTargets(destination: string): Set<Subscription>[] {
    let targets = this.fanOutCache.get(destination);
    if (targets) return targets;
    targets = [];
    for (let prefix = destination; ; prefix = prefix.slice(0, prefix.lastIndexOf('.'))) {
      const subs = this.byDestination.get(prefix);
      if (subs) targets.push(subs);
      if (!prefix.includes('.')) break;
    }
    // Bounded: a client sending to ever-new destinations must not grow this without limit.
    if (this.fanOutCache.size > 1000) this.fanOutCache.clear();
    this.fanOutCache.set(destination, targets);
    return targets;
  }
}
