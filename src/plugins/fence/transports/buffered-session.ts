/**
 * What a device command line looks like to the agents, whatever carries it (telnet or SSH): text in, text out,
 * with expect-style reading.
 */
import { StringDecoder } from 'node:string_decoder';
import { dialogue, HIDDEN } from '../dialogue.js';

export interface ExpectResult {
  /** Which pattern matched (its index in the list given). */
  index: number;
  /** Text received before the match (consumed). */
  before: string;
  /** The matched text (consumed). */
  after: string;
}

export interface CliSession {
  /** Sends text as is (no line end added); a `secret` (a password) shows in the dialogue log as `********`. */
  send(text: string, secret?: boolean): Promise<void>;
  /** Sends a line with the session's line end (CR LF unless changed). */
  sendLine(line: string, secret?: boolean): Promise<void>;
  eol: string;
  /** Waits for the earliest match of any pattern; timeoutMs 0 waits without limit. */
  expect(patterns: RegExp[], timeoutMs: number): Promise<ExpectResult>;
  close(): Promise<void>;
}

export class ExpectTimeout extends Error {
  override name = 'ExpectTimeout';
}
export class ExpectEof extends Error {
  override name = 'ExpectEof';
}

/** The buffer and expect logic both transports share; a transport feeds it bytes and implements write/close. */
export abstract class BufferedSession implements CliSession {
  eol = '\r\n';
  private buffer = '';
  private ended = false;
  private readonly decoder = new StringDecoder('utf8');
  private waiter?: () => void;
  private readonly talk = dialogue();

  protected abstract write(bytes: Buffer): Promise<void>;
  abstract close(): Promise<void>;

  /** Transport → session: device text, already free of protocol bytes. */
  protected received(bytes: Buffer): void {
    this.buffer += this.decoder.write(bytes);
    this.waiter?.();
  }

  protected eof(): void {
    this.buffer += this.decoder.end();
    this.ended = true;
    this.waiter?.();
  }

  send(text: string, secret = false): Promise<void> {
    this.talk.sent(secret ? HIDDEN : text);
    return this.write(Buffer.from(text, 'utf8'));
  }

  sendLine(line: string, secret = false): Promise<void> {
    return this.send(line + this.eol, secret);
  }

  /** pexpect's rule: the match that starts earliest in the buffer wins; on a tie, the earlier pattern. */
  private search(patterns: RegExp[]): ExpectResult | undefined {
    let best: { index: number; at: number; text: string } | undefined;
    patterns.forEach((p, index) => {
      const m = new RegExp(p.source, p.flags.replace('g', '')).exec(this.buffer);
      if (m && (!best || m.index < best.at)) best = { index, at: m.index, text: m[0] };
    });
    if (!best) return undefined;
    const result = { index: best.index, before: this.buffer.slice(0, best.at), after: best.text };
    this.buffer = this.buffer.slice(best.at + best.text.length);
    return result;
  }

  expect(patterns: RegExp[], timeoutMs: number): Promise<ExpectResult> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.waiter = undefined;
        fn();
      };
      const check = () => {
        const found = this.search(patterns);
        if (found) {
          this.talk.received(found.before + found.after);
          done(() => resolve(found));
        } else if (this.ended) {
          this.talk.received(`${this.buffer}[connection closed]`);
          done(() => reject(new ExpectEof('Connection closed by the device')));
        }
      };
      const expired = () => {
        this.talk.received(`${this.buffer}[no expected answer within ${timeoutMs} ms]`);
        done(() => reject(new ExpectTimeout(`No answer within ${timeoutMs} ms`)));
      };
      if (timeoutMs > 0) timer = setTimeout(expired, timeoutMs);
      this.waiter = check;
      check();
    });
  }
}
