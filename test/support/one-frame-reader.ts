/**
 * A STOMP client that takes bytes off its socket the way the oVirt engine's own client library does
 * (vdsm-jsonrpc-java 1.7: StompCommonClient.processIncoming, Message.parse, the reactor's select loop).
 *
 * Why it exists: that library reads a frame's start into a 1,024-byte buffer, hands over the FIRST frame it finds
 * there and keeps the rest of the buffer; the kept bytes are looked at again only when a later read returns new
 * bytes. Frames that arrived together with an earlier one therefore wait for whatever the server sends next (a
 * reply, an event, a heart-beat 15 s later). The library cannot run in CI (it is not packaged anywhere we can
 * install from), and no client we have reads this way, so this peer reproduces that read path step by step: a
 * server that passes with stompjs but strands frames here would strand them in a real engine.
 *
 * The model, as the library behaves:
 * - `read(buffer)` takes at most what the buffer has room for from what has arrived ("the kernel");
 * - one `processIncoming()` per select wake-up; select returns at once while unread bytes exist (level-triggered)
 *   and otherwise after new bytes or 1 s, so a call with nothing new returns without looking at kept bytes;
 * - Message.parse splits on "\n" as Java's String.split does (trailing empty strings dropped), skips leading EOLs,
 *   treats fewer than three lines as a heart-beat, and throws on a header line without ":" or a cut-off header
 *   block (the library drops the connection then: recorded here as a client error).
 * The reactor may wake late (garbage collection, other hosts on the same thread): `wakeDelayMs` stalls the reader
 * after bytes arrive; once awake it reads while bytes are there, as the level-triggered select makes it.
 */
import type { Socket } from 'node:net';
import { sleep, waitFor, Wakeup } from './wait.js';

const BUFFER_SIZE = 1024;
const SELECT_TIMEOUT_MS = 1000;
const COMMANDS = new Set([
  'SEND',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'BEGIN',
  'COMMIT',
  'ABORT',
  'DISCONNECT',
  'CONNECT',
  'RECEIPT',
  'CONNECTED',
  'ERROR',
  'ACK',
  'MESSAGE',
]);

export interface DeliveredFrame {
  command: string;
  headers: Map<string, string>;
  body: string;
  /** When the frame's last byte reached this client's socket (performance.now()). */
  arrivedAt: number;
  /** When the library would have handed it to the engine. */
  deliveredAt: number;
}

interface JavaMessage {
  command: string;
  headers: Map<string, string>;
  content: Buffer;
}

class ClientError extends Error {}

/** Java's `String.split(regex)` for a one-character separator: trailing empty strings are removed. */
function javaSplit(text: string, sep: string): string[] {
  const parts = text.split(sep);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Message.parse: null for a heart-beat; throws where the Java code throws. */
function parse(bytes: Buffer): JavaMessage | null {
  const lines = javaSplit(bytes.toString('utf8'), '\n');
  if (lines.length === 0) return null;
  let line = 0;
  while (lines[line]!.length === 0) line++;
  if (lines.length - line <= 2) return null;
  const command = lines[line]!.replaceAll('\0', '');
  if (!COMMANDS.has(command))
    throw new ClientError(`Unrecognized message received (${JSON.stringify(command.slice(0, 20))})`);
  const headers = new Map<string, string>();
  line++;
  for (let current = lines[line]; current!.length > 0; current = lines[++line]) {
    if (current === undefined) throw new ClientError('header block cut off (ArrayIndexOutOfBoundsException)');
    const ind = current.indexOf(':');
    if (ind < 0) throw new ClientError(`header line without ":" (${JSON.stringify(current.slice(0, 20))})`);
    headers.set(current.slice(0, ind), current.slice(ind + 1));
  }
  line++;
  let offset = 0;
  for (let i = 0; i < line; i++) {
    if (lines[i] === undefined) throw new ClientError('content offset past the end (ArrayIndexOutOfBoundsException)');
    offset += Buffer.byteLength(lines[i]!, 'utf8') + 1;
  }
  return { command, headers, content: bytes.subarray(Math.min(offset, bytes.length)) };
}

function contentLength(m: JavaMessage): number {
  const v = m.headers.get('content-length');
  return v !== undefined && /^[+-]?\d+$/.test(v) ? Number.parseInt(v, 10) : -1;
}

export class OneFramePerReadClient {
  readonly delivered: DeliveredFrame[] = [];
  readonly errors: string[] = [];
  /** Stream offsets of frames that sat complete in the buffer while the reader waited for new bytes. */
  readonly stranded: number[] = [];
  /** Bytes that arrived and were not read yet, with the stream offset at which each chunk ends. */
  private kernel: Buffer[] = [];
  private kernelBytes = 0;
  private arrivals: { end: number; at: number }[] = [];
  private received = 0;
  private consumed = 0;
  private nulsReceived = 0;
  private header = Buffer.alloc(BUFFER_SIZE);
  private headerLen = 0;
  private message: JavaMessage | null = null;
  private ibuff: { buf: Buffer; filled: number } | null = null;
  private wake: (() => void) | null = null;
  private stopped = false;
  private readonly loop: Promise<void>;
  private listeners: ((f: DeliveredFrame) => void)[] = [];
  private readonly deliveries = new Wakeup();

  constructor(
    readonly socket: Socket,
    private readonly wakeDelayMs: () => number = () => 0,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.kernel.push(chunk);
      this.kernelBytes += chunk.length;
      this.received += chunk.length;
      for (const b of chunk) if (b === 0) this.nulsReceived++;
      this.arrivals.push({ end: this.received, at: performance.now() });
      this.wake?.();
    });
    socket.on('error', (err) => this.errors.push(`socket: ${err.message}`));
    socket.on('close', () => {
      this.stopped = true;
      this.wake?.();
    });
    this.loop = this.run();
  }

  /** Frames that reached this client (every frame ends with the only NUL in it), delivered or not. */
  get framesArrived(): number {
    return this.nulsReceived;
  }

  send(frame: string): void {
    this.socket.write(frame);
  }

  onFrame(listener: (f: DeliveredFrame) => void): void {
    this.listeners.push(listener);
  }

  /** Waits until `done` holds, looking again on every delivered frame; fails closed with what the reader holds. */
  async until(done: () => boolean, timeoutMs = 5000): Promise<void> {
    try {
      await waitFor('the frames waited for', done, timeoutMs, 50, this.deliveries);
    } catch {
      throw new Error(
        `not done after ${timeoutMs} ms: ${this.framesArrived} frames arrived, ${this.delivered.length} delivered, ${this.stranded.length} stranded; errors: ${this.errors.join('; ') || 'none'}; delivered: ${this.delivered.map((f) => f.body.trim().slice(0, 120) || f.command).join(' | ')}`,
      );
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.socket.destroy();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.kernelBytes === 0) {
        this.noteStranded();
        const woke = await this.select();
        if (this.stopped) return;
        const delay = woke ? this.wakeDelayMs() : 0;
        if (delay > 0) await sleep(delay);
      } else {
        // Reading while bytes are there, but never starving this process's other work (the server may be in it).
        await new Promise((r) => setImmediate(r));
      }
      try {
        this.processIncoming();
      } catch (err) {
        // The library drops the connection on these; so do we, and the test sees the error.
        this.errors.push((err as Error).message);
        this.stopped = true;
        this.socket.destroy();
      }
    }
  }

  /**
   * A whole frame among the kept bytes: nothing hands it over until new bytes arrive. Leading EOLs and NULs do not
   * count: the NUL of a frame one byte longer than the buffer is read with the next frame, and parse drops it.
   */
  private noteStranded(): void {
    if (this.ibuff !== null) return;
    const kept = this.header.subarray(0, this.headerLen);
    const start = kept.findIndex((b) => b !== 0 && b !== 10);
    if (start < 0 || !kept.subarray(start).includes(0)) return;
    const offset = this.consumed - this.headerLen;
    if (!this.stranded.includes(offset)) this.stranded.push(offset);
  }

  /** Resolves true when bytes arrive, false after the reactor's select timeout. */
  private select(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve(false);
      }, SELECT_TIMEOUT_MS);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve(true);
      };
    });
  }

  /** `channel.read(buffer)`: copies what has arrived, up to `room` bytes. */
  private read(target: Buffer, at: number, room: number): number {
    let n = 0;
    while (n < room && this.kernel.length > 0) {
      const head = this.kernel[0]!;
      const take = Math.min(room - n, head.length);
      head.copy(target, at + n, 0, take);
      n += take;
      if (take === head.length) this.kernel.shift();
      else this.kernel[0] = head.subarray(take);
    }
    this.kernelBytes -= n;
    this.consumed += n;
    return n;
  }

  /** StompCommonClient.processIncoming, step for step. */
  private processIncoming(): void {
    if (this.ibuff === null) {
      const read = this.read(this.header, this.headerLen, BUFFER_SIZE - this.headerLen);
      this.headerLen += read;
      if (read <= 0) return;
      this.message = parse(this.header.subarray(0, this.headerLen));
      if (this.message === null) return;
      const cl = contentLength(this.message);
      if (cl === -1) return this.controlFrames();
      const length = this.message.content.length;
      if (cl === length - 1) return this.emit(this.message, 0);
      if (cl > length) {
        this.ibuff = { buf: Buffer.alloc(cl - length + 1), filled: 0 };
      } else {
        const content = this.message.content;
        const frame = Buffer.alloc(cl + 1);
        content.copy(frame, 0, 0, Math.min(content.length, cl + 1));
        const rest = content.subarray(Math.min(cl + 1, content.length));
        this.emit({ ...this.message, content: frame }, rest.length);
        rest.copy(this.header, 0);
        this.headerLen = rest.length;
        return;
      }
    }
    const ibuff = this.ibuff!;
    ibuff.filled += this.read(ibuff.buf, ibuff.filled, ibuff.buf.length - ibuff.filled);
    const message = this.message!;
    if (contentLength(message) !== message.content.length + ibuff.filled - 1) return;
    this.emit({ ...message, content: Buffer.concat([message.content, ibuff.buf]) }, 0);
  }

  /** Frames without content-length: the library splits its whole 1,024-byte array on NUL. */
  private controlFrames(): void {
    const all = this.header.toString('utf8');
    for (const text of javaSplit(all, '\0')) {
      const m = parse(Buffer.from(text + '\0', 'utf8'));
      if (m === null) throw new ClientError('NullPointerException: a control frame followed by a heart-beat');
      const cl = contentLength(m);
      if (cl !== -1 && cl !== m.content.length - 1) {
        this.message = m;
        break;
      }
      this.emit(m, 0);
    }
  }

  /** emitOnMessageReceived: trims the NUL, empties the buffers, hands the frame over. */
  private emit(m: JavaMessage, keptBytes: number): void {
    this.header = Buffer.alloc(BUFFER_SIZE);
    this.headerLen = 0;
    this.ibuff = null;
    this.message = null;
    const lastByte = this.consumed - keptBytes - 1;
    const arrival = this.arrivals.find((a) => a.end > lastByte);
    this.arrivals = this.arrivals.filter((a) => a.end > this.consumed - keptBytes);
    const frame: DeliveredFrame = {
      command: m.command,
      headers: m.headers,
      body: m.content.subarray(0, Math.max(0, m.content.length - 1)).toString('utf8'),
      arrivedAt: arrival?.at ?? performance.now(),
      deliveredAt: performance.now(),
    };
    this.delivered.push(frame);
    for (const l of this.listeners) l(frame);
    this.deliveries.wake();
  }
}

/** The frames the engine sends to open its session: CONNECT as the library writes it, then its subscriptions. */
export function engineHandshake(): string {
  return (
    'CONNECT\naccept-version:1.2\nhost:engine\nheart-beat:0,15000\n\n\0' +
    'SUBSCRIBE\ndestination:jms.topic.vdsm_responses\nack:auto\nid:responses\n\n\0' +
    'SUBSCRIBE\ndestination:jms.queue.events\nack:auto\nid:events\n\n\0'
  );
}

/** A request as the engine sends it: no content-type, reply-to the shared response topic. */
export function engineRequest(id: string, method: string, params: Record<string, unknown> = {}): string {
  const body = JSON.stringify({ jsonrpc: '2.0', method, params, id });
  return `SEND\ndestination:jms.topic.vdsm_requests\nreply-to:jms.topic.vdsm_responses\ncontent-length:${Buffer.byteLength(body)}\n\n${body}\0`;
}
