/**
 * A small telnet client (RFC 854/855) on node:net, enough for device command lines: it agrees to the server
 * echoing and suppressing go-ahead, to binary both ways (as `telnet` after `set binary`), refuses every other
 * option, never loops on acknowledgements (RFC 1143's rule: answer only a change), skips subnegotiation,
 * strips IAC sequences and CR NUL from the data, and doubles 0xFF in what it sends.
 */
import net from 'node:net';
import { FenceError, type FenceOptions } from '../agent.js';
import { BufferedSession } from './buffered-session.js';

const IAC = 255;
const DONT = 254;
const DO = 253;
const WONT = 252;
const WILL = 251;
const SB = 250;
const SE = 240;

const BINARY = 0;
const ECHO = 1;
const SGA = 3;

/** Options we let the server perform (it echoes, no go-ahead, 8-bit data). */
const SERVER_MAY = new Set([BINARY, ECHO, SGA]);
/** Options we perform ourselves when asked. */
const WE_DO = new Set([BINARY, SGA]);

export class TelnetSession extends BufferedSession {
  /** Options enabled on each side; `asked*` = we requested and wait for the answer. */
  private readonly him = new Set<number>();
  private readonly us = new Set<number>();
  private readonly askedHim = new Set<number>();
  private readonly askedUs = new Set<number>();
  private state: 'data' | 'iac' | 'opt' | 'sb' | 'sb-iac' = 'data';
  private verb = 0;
  private lastCR = false;

  constructor(private readonly socket: net.Socket) {
    super();
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.eof());
    socket.on('error', () => this.eof());
  }

  /** What a telnet client asks for at once: server-side go-ahead suppression, and binary in both directions. */
  start(): void {
    this.ask(DO, SGA);
    this.ask(DO, BINARY);
    this.ask(WILL, BINARY);
  }

  private ask(verb: typeof DO | typeof WILL, opt: number): void {
    (verb === DO ? this.askedHim : this.askedUs).add(opt);
    this.raw([IAC, verb, opt]);
  }

  private raw(bytes: number[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.from(bytes));
  }

  private option(verb: number, opt: number): void {
    switch (verb) {
      case WILL:
        if (this.askedHim.delete(opt))
          this.him.add(opt); // the answer to our DO
        else if (this.him.has(opt)) return;
        else if (SERVER_MAY.has(opt)) {
          this.him.add(opt);
          this.raw([IAC, DO, opt]);
        } else this.raw([IAC, DONT, opt]);
        return;
      case WONT:
        if (this.askedHim.delete(opt)) return; // refused our DO
        if (this.him.delete(opt)) this.raw([IAC, DONT, opt]);
        return;
      case DO:
        if (this.askedUs.delete(opt)) this.us.add(opt);
        else if (this.us.has(opt)) return;
        else if (WE_DO.has(opt)) {
          this.us.add(opt);
          this.raw([IAC, WILL, opt]);
        } else this.raw([IAC, WONT, opt]);
        return;
      case DONT:
        if (this.askedUs.delete(opt)) return;
        if (this.us.delete(opt)) this.raw([IAC, WONT, opt]);
        return;
    }
  }

  private receive(chunk: Buffer): void {
    const data: number[] = [];
    for (const byte of chunk) {
      switch (this.state) {
        case 'data':
          if (byte === IAC) this.state = 'iac';
          else if (this.lastCR && byte === 0)
            this.lastCR = false; // CR NUL is a bare CR
          else {
            this.lastCR = byte === 13;
            data.push(byte);
          }
          break;
        case 'iac':
          if (byte === IAC) {
            data.push(IAC);
            this.state = 'data';
          } else if (byte === WILL || byte === WONT || byte === DO || byte === DONT) {
            this.verb = byte;
            this.state = 'opt';
          } else this.state = byte === SB ? 'sb' : 'data'; // NOP, GA, DM, ...: nothing to show
          break;
        case 'opt':
          this.option(this.verb, byte);
          this.state = 'data';
          break;
        case 'sb':
          if (byte === IAC) this.state = 'sb-iac';
          break;
        case 'sb-iac':
          this.state = byte === SE ? 'data' : 'sb';
          break;
      }
    }
    if (data.length > 0) this.received(Buffer.from(data));
  }

  protected write(bytes: Buffer): Promise<void> {
    const out: number[] = [];
    for (const b of bytes) {
      out.push(b);
      if (b === IAC) out.push(IAC);
    }
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(new Error('connection closed'));
      this.socket.write(Buffer.from(out), (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 200).unref();
    });
  }
}

/** Opens a telnet connection to ipaddr:ipport (23 by default) within timeoutMs (0 = the system's limit). */
export function openTelnet(opts: FenceOptions, timeoutMs: number): Promise<TelnetSession> {
  const host = String(opts.ipaddr);
  const port = Number(opts.ipport ?? 23) || 23;
  const family = opts.inet4_only === true ? 4 : opts.inet6_only === true ? 6 : 0;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, family });
    socket.setNoDelay(true);
    const timer = timeoutMs > 0 ? setTimeout(() => fail(new Error('connect timed out')), timeoutMs) : undefined;
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new FenceError(`Unable to connect/login to fencing device`, { cause: err }));
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      const session = new TelnetSession(socket);
      session.start();
      resolve(session);
    });
  });
}
