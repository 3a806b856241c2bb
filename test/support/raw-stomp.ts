import net from 'node:net';
import tls from 'node:tls';
import type { Frame } from '../../src/rpc/stomp/frame.js';
import { SERVER_COMMANDS } from '../../src/rpc/stomp/frame.js';
import { DEFAULT_LIMITS, StompParser } from '../../src/rpc/stomp/parser.js';
import { pollUntil, Wakeup } from './wait.js';

/** A raw STOMP client for byte-exact tests: writes whatever it is told, parses what the server sends. */
export class RawStomp {
  readonly frames: Frame[] = [];
  raw = Buffer.alloc(0);
  heartbeats = 0;
  closed = false;
  parseError: Error | null = null;
  private readonly changes = new Wakeup();
  private readonly parser = new StompParser(
    (f) => {
      this.frames.push(f);
      this.changes.wake();
    },
    { ...DEFAULT_LIMITS, maxBodyBytes: 64 * 1024 * 1024 },
    () => {
      this.heartbeats++;
      this.changes.wake();
    },
    SERVER_COMMANDS,
  );

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.raw = Buffer.concat([this.raw, d]);
      if (this.parseError) return;
      try {
        this.parser.push(d);
      } catch (err) {
        this.parseError = err as Error; // e.g. an HTTP answer: `raw` still holds the bytes
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.changes.wake();
    });
  }

  static connect(port: number, tlsOptions?: tls.ConnectionOptions): Promise<RawStomp> {
    return new Promise((resolve, reject) => {
      const socket = tlsOptions
        ? tls.connect({ host: '127.0.0.1', port, checkServerIdentity: () => undefined, ...tlsOptions }, () =>
            resolve(new RawStomp(socket)),
          )
        : net.connect({ host: '127.0.0.1', port }, () => resolve(new RawStomp(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** A frame as the engine writes it: content-length when there is a body, NUL at the end. */
  send(command: string, headers: Record<string, string>, body = ''): void {
    const h = Object.entries(headers)
      .map(([k, v]) => `${k}:${v}\n`)
      .join('');
    const cl = body ? `content-length:${Buffer.byteLength(body)}\n` : '';
    this.write(`${command}\n${h}${cl}\n${body}\0`);
  }

  /** Waits until `pred` holds, the socket closes, or the time runs out; returns whether it held (never throws). */
  async until(pred: () => boolean, timeoutMs = 5000): Promise<boolean> {
    await pollUntil(() => pred() || this.closed, timeoutMs, 100, this.changes);
    return pred();
  }

  async nextFrame(command: string, timeoutMs = 5000): Promise<Frame> {
    const ok = await this.until(() => this.frames.some((f) => f.command === command), timeoutMs);
    if (!ok)
      throw new Error(
        `no ${command} frame (closed=${this.closed}; got ${this.frames.map((f) => f.command).join(',')})`,
      );
    const i = this.frames.findIndex((f) => f.command === command);
    return this.frames.splice(i, 1)[0]!;
  }

  /** Every JSON body received on MESSAGE frames, parsed. */
  messages(): unknown[] {
    return this.frames.filter((f) => f.command === 'MESSAGE').map((f) => JSON.parse(f.body.toString()));
  }

  waitClosed(timeoutMs = 5000): Promise<boolean> {
    return this.until(() => this.closed, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** CONNECT + SUBSCRIBE to a reply queue, then one JSON-RPC call; returns the reply object. */
export async function rawCall(port: number, request: unknown, tlsOptions?: tls.ConnectionOptions): Promise<any> {
  const c = await RawStomp.connect(port, tlsOptions);
  try {
    c.send('CONNECT', { 'accept-version': '1.2', host: 'null', 'heart-beat': '0,15000' });
    await c.nextFrame('CONNECTED');
    c.send('SUBSCRIBE', { destination: 'reply.q', id: 's1', ack: 'auto' });
    c.send('SEND', { destination: 'jms.topic.vdsm_requests', 'reply-to': 'reply.q' }, JSON.stringify(request));
    const frame = await c.nextFrame('MESSAGE');
    return JSON.parse(frame.body.toString());
  } finally {
    c.close();
  }
}
