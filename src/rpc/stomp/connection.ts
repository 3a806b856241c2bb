import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ENGINE_READ_BYTES, encodeFrame, encodeJsonMessage, type Frame, StompProtocolError } from './frame.js';
import { negotiateHeartbeat } from './heartbeat.js';
import { type ParserLimits, StompParser } from './parser.js';

/** What a connection needs from the broker that owns it (routing crosses connections). */
export interface ConnectionHost {
  readonly log: Logger;
  readonly limits: ConnectionLimits;
  subscribe(sub: Subscription): void;
  unsubscribe(sub: Subscription): void;
  send(conn: StompConnection, frame: Frame): void;
  closed(conn: StompConnection): void;
}

export interface ConnectionLimits extends ParserLimits {
  /** Stop reading from a client whose unread replies exceed this many bytes, until it drains them. */
  pauseAboveBytes: number;
  /** Drop a client whose unread output exceeds this (it keeps receiving events but never reads). */
  dropAboveBytes: number;
  /** Requests a connection may have in flight before we stop reading from it. */
  maxInFlight: number;
}

export interface Subscription {
  conn: StompConnection;
  id: string;
  destination: string;
  ack: string;
}

let nextConnectionId = 1;

/**
 * Node hands a TLS socket's queued writes to OpenSSL as one buffer, so frames written together share a TLS record,
 * and a record's tail can hold the start of the next frame. The engine's TLS reader decrypts one record per wake-up
 * and, while bytes of a decrypted record are left over, does not read the socket again: the next frame waits for
 * new bytes, and one of 1 KiB or more fills its header buffer and stalls the connection for good. Without
 * `_writev`, Node's stream writes each queued chunk on its own: every frame written as a chunk of its own starts a
 * record, and no record spans two frames.
 */
function oneRecordPerChunk(socket: TLSSocket): void {
  (socket as unknown as { _writev: null })._writev = null;
}

/**
 * More replies than this in one flush means a client that pipelines (the engine has a handful of requests in flight
 * per host). A record per frame costs ~10 µs each in Node, so such a flush goes out as one chunk over TLS.
 */
const PIPELINED_REPLIES = 8;

/** One STOMP client: frame parsing, per-connection subscriptions, heart-beats, batched writes, flow control. */
export class StompConnection {
  readonly id = nextConnectionId++;
  readonly subscriptions = new Map<string, Subscription>();
  private readonly parser: StompParser;
  private outbox: (string | Buffer)[] = [];
  private outboxBytes = 0;
  private flushScheduled = false;
  private lastWrite = Date.now();
  private lastRead = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private inFlight = 0;
  private pausedFor = new Set<'output' | 'inflight'>();
  private closing = false;
  private closed = false;
  /**
   * Plaintext: JSON frames are padded to the engine's read size, so that no read of its takes bytes of two frames.
   * TLS needs no padding: its reader decrypts one record per read, and each frame has records of its own.
   */
  private readonly minFrameBytes: number;
  /** TLS: frames go out as chunks of their own, so that each starts a record (see oneRecordPerChunk). */
  private readonly recordPerFrame: boolean;
  private answeredSinceFlush = 0;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.parser = new StompParser((frame) => this.onFrame(frame), host.limits);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => host.log.debug({ conn: this.id, err: err.message }, 'stomp socket error'));
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.resume('output'));
    const encrypted = (socket as TLSSocket).encrypted === true;
    if (encrypted) oneRecordPerChunk(socket as TLSSocket);
    this.recordPerFrame = encrypted;
    this.minFrameBytes = encrypted ? 0 : ENGINE_READ_BYTES;
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  /** Feeds bytes that were read before this connection took the socket over (protocol detection). */
  onData(chunk: Buffer): void {
    this.lastRead = Date.now();
    if (this.closing) return;
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (!(err instanceof StompProtocolError)) throw err;
      this.host.log.warn({ conn: this.id, remote: this.remote, reason: err.message }, 'malformed STOMP input; closing');
      this.fail(err.message);
    }
  }

  private onFrame(frame: Frame): void {
    if (this.closing) return;
    switch (frame.command) {
      case 'CONNECT':
      case 'STOMP':
        return this.onConnect(frame);
      case 'SUBSCRIBE':
        return this.onSubscribe(frame);
      case 'UNSUBSCRIBE':
        return this.onUnsubscribe(frame);
      case 'SEND':
        this.host.send(this, frame);
        return this.receipt(frame);
      case 'DISCONNECT':
        this.receipt(frame);
        return this.close();
      default:
        this.host.log.warn({ conn: this.id, command: frame.command }, 'unsupported STOMP command; closing');
        return this.fail(`unsupported command ${frame.command}`);
    }
  }

  private onConnect(frame: Frame): void {
    const versions = (frame.headers['accept-version'] ?? '').split(',').map((v) => v.trim());
    if (!versions.includes('1.2')) {
      this.sendError('Version unsupported');
      return;
    }
    const plan = negotiateHeartbeat(frame.headers['heart-beat']);
    this.write(encodeFrame('CONNECTED', { version: '1.2', 'heart-beat': plan.header }));
    this.startHeartbeats(plan.sendEveryMs, plan.expectEveryMs);
  }

  private onSubscribe(frame: Frame): void {
    const { destination, id } = frame.headers;
    if (!destination || id === undefined) return this.sendError('Missing destination or subscription id header');
    if (this.subscriptions.has(id)) return this.sendError('Subscription id already exists');
    const sub: Subscription = { conn: this, id, destination, ack: frame.headers.ack ?? 'auto' };
    this.subscriptions.set(id, sub);
    this.host.subscribe(sub);
    this.receipt(frame);
  }

  private onUnsubscribe(frame: Frame): void {
    const { id } = frame.headers;
    if (id === undefined) return this.sendError('Missing id header');
    const sub = this.subscriptions.get(id);
    if (sub) {
      this.subscriptions.delete(id);
      this.host.unsubscribe(sub);
    }
    this.receipt(frame);
  }

  private receipt(frame: Frame): void {
    const id = frame.headers.receipt;
    if (id !== undefined) this.write(encodeFrame('RECEIPT', { 'receipt-id': id }));
  }

  /** ERROR carries its text in the body (as vdsm) and in a short `message` header (as STOMP clients expect). */
  sendError(text: string): void {
    this.write(encodeFrame('ERROR', { message: text.slice(0, 200), 'content-type': 'text/plain' }, text));
  }

  sendJson(destination: string, subscription: string, json: string): void {
    this.write(encodeJsonMessage(destination, subscription, json, this.minFrameBytes));
  }

  write(data: string | Buffer): void {
    if (this.closed) return;
    this.outbox.push(data);
    this.outboxBytes += data.length;
    if (this.socket.writableLength + this.outboxBytes > this.host.limits.dropAboveBytes) {
      this.host.log.warn({ conn: this.id, remote: this.remote }, 'client does not read its replies; dropping it');
      this.destroy();
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // A tick queued from a promise reaction runs after the whole microtask queue has drained, so every reply
      // to the requests of one read goes out together, without waiting for the next turn of the event loop.
      process.nextTick(() => this.flush());
    }
  }

  /**
   * Everything queued while handling one read goes out together: in one writev on plaintext; over TLS as one chunk
   * per frame, unless the client pipelines (see PIPELINED_REPLIES).
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.outbox.length === 0) return;
    const out = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    const answered = this.answeredSinceFlush;
    this.answeredSinceFlush = 0;
    if (this.recordPerFrame && out.length > 1 && answered > PIPELINED_REPLIES) {
      this.socket.write(
        out.every((c) => typeof c === 'string')
          ? out.join('')
          : Buffer.concat(out.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))),
      );
    } else {
      this.socket.cork();
      for (const chunk of out) this.socket.write(chunk);
      this.socket.uncork();
    }
    this.lastWrite = Date.now();
    if (this.socket.writableLength > this.host.limits.pauseAboveBytes) this.pause('output');
    if (this.closing) this.socket.end();
  }

  /** Bookkeeping for requests handed to the RPC layer, so one client cannot queue unbounded work. */
  requestStarted(): void {
    if (++this.inFlight >= this.host.limits.maxInFlight) this.pause('inflight');
  }

  requestFinished(): void {
    this.answeredSinceFlush++;
    if (--this.inFlight < this.host.limits.maxInFlight / 2) this.resume('inflight');
  }

  private pause(reason: 'output' | 'inflight'): void {
    this.pausedFor.add(reason);
    this.socket.pause();
  }

  private resume(reason: 'output' | 'inflight'): void {
    if (!this.pausedFor.delete(reason) || this.pausedFor.size > 0 || this.closed) return;
    this.socket.resume();
  }

  private startHeartbeats(sendEveryMs: number, expectEveryMs: number): void {
    this.stopTimers();
    if (sendEveryMs > 0) {
      // Checking four times per interval keeps the longest silence close to the interval itself.
      const tick = Math.max(250, Math.floor(sendEveryMs / 4));
      this.timers.push(
        setInterval(() => {
          if (Date.now() - this.lastWrite >= sendEveryMs - tick && this.outbox.length === 0) this.write('\n');
        }, tick),
      );
    }
    if (expectEveryMs > 0) {
      // STOMP allows a grace margin; we give the client twice its promised interval.
      this.timers.push(
        setInterval(() => {
          if (Date.now() - this.lastRead > 2 * expectEveryMs) {
            this.host.log.info({ conn: this.id, remote: this.remote }, 'client heart-beat missed; closing');
            this.destroy();
          }
        }, expectEveryMs),
      );
    }
    for (const t of this.timers) t.unref();
  }

  private stopTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Sends a clear ERROR and closes: used for input we cannot parse or commands we do not serve. */
  private fail(reason: string): void {
    this.sendError(reason);
    // A peer sending garbage may still be pushing a large frame that we no longer read, which keeps its side
    // from closing: give it one second to read the ERROR, not five.
    this.close(1000);
  }

  /** Closes after queued output has been written. */
  close(graceMs = 5000): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.pause();
    if (!this.flushScheduled) this.socket.end();
    // A client that never reads would keep the socket half-open; bound that.
    setTimeout(() => this.destroy(), graceMs).unref();
  }

  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    this.outbox = [];
    this.host.closed(this);
  }
}
