/**
 * A line-oriented session with a device's command line (DRAC, APC, ...), over telnet or SSH, with
 * expect-style reading: what pexpect gives ClusterLabs' agents, in process and without child programs.
 */
import { StringDecoder } from 'node:string_decoder';
import { FenceError, type FenceOptions } from '../agent.js';
import { ms } from '../validate.js';

export interface ExpectResult {
  /** Which pattern matched (its index in the list given). */
  index: number;
  /** Text received before the match (consumed). */
  before: string;
  /** The matched text (consumed). */
  after: string;
}

export interface CliSession {
  /** Sends text as is (no line end added). */
  send(text: string): Promise<void>;
  /** Sends a line with the session's line end (CR LF unless changed). */
  sendLine(line: string): Promise<void>;
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

  send(text: string): Promise<void> {
    return this.write(Buffer.from(text, 'utf8'));
  }

  sendLine(line: string): Promise<void> {
    return this.send(line + this.eol);
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
        if (found) done(() => resolve(found));
        else if (this.ended) done(() => reject(new ExpectEof('Connection closed by the device')));
      };
      if (timeoutMs > 0) timer = setTimeout(() => done(() => reject(new ExpectTimeout(`No answer within ${timeoutMs} ms`))), timeoutMs);
      this.waiter = check;
      check();
    });
  }
}


const RE_LOGIN = /(login\s*: )|((?!Last )Login Name: {2})|(username: )|(User Name :)/i;
const RE_PASSWORD = /(password)|(pass phrase)/i;

export interface CliLogin {
  session: CliSession;
  /** Command prompt patterns in force (cmd_prompt, or the agent's defaults). */
  prompts: RegExp[];
  /** Text shown between login and the first prompt (banner), and the prompt itself: agents detect models by them. */
  banner: string;
  prompt: string;
}

/**
 * The agent's prompt list: its defaults unless cmd_prompt names one. Metadata shows the defaults as Python's list
 * repr (`defaultText`), which then arrives here as the option's value; that text means "the defaults".
 */
export function promptPatterns(opts: FenceOptions, defaults: string[], defaultText: string): RegExp[] {
  const given = opts.cmd_prompt;
  if (typeof given !== 'string' || given === '' || given === defaultText) return defaults.map((p) => new RegExp(p));
  try {
    return [new RegExp(given)];
  } catch {
    throw new FenceError(`Failed: --command-prompt is not a valid regular expression`);
  }
}

/**
 * Connects (telnet, or SSH with --ssh) and logs in the way ClusterLabs' fence_login does: telnet answers the login
 * and password prompts, SSH authenticates in the protocol; both then wait for a command prompt. Any failure is
 * "Unable to connect/login to fencing device" (the password never appears in a message).
 */
export async function cliLogin(opts: FenceOptions, prompts: RegExp[]): Promise<CliLogin> {
  const loginMs = ms(opts, 'login_timeout');
  const shellMs = ms(opts, 'shell_timeout');
  const user = String(opts.login ?? '');
  const password = typeof opts.passwd === 'string' ? opts.passwd : undefined;
  let session: CliSession | undefined;
  try {
    if (opts.secure === true) {
      const { openSsh } = await import('./ssh.js');
      session = await openSsh(opts, loginMs);
    } else {
      const { openTelnet } = await import('./telnet.js');
      session = await openTelnet(opts, loginMs);
      await session.expect([RE_LOGIN], loginMs);
      await session.sendLine(user);
      // A device that shows the login prompt again did not take CR LF as one Enter: retry with LF alone.
      if ((await session.expect([RE_PASSWORD, RE_LOGIN], loginMs)).index === 1) {
        session.eol = '\n';
        await session.sendLine(user);
        await session.expect([RE_PASSWORD], loginMs);
      }
      if (password === undefined) throw new FenceError('Failed: You have to set login password');
      await session.sendLine(password);
      // Back at the login prompt: the password was refused (we do not retry a refused password).
      const r = await session.expect([RE_LOGIN, ...prompts], shellMs || loginMs);
      if (r.index === 0) throw new Error('login refused');
      return { session, prompts, banner: r.before, prompt: r.after };
    }
    const r = await session.expect(prompts, loginMs);
    return { session, prompts, banner: r.before, prompt: r.after };
  } catch (err) {
    await session?.close().catch(() => {});
    if (err instanceof FenceError) throw err;
    throw new FenceError('Unable to connect/login to fencing device');
  }
}

/** Sends a command and returns the text before the next prompt. A timeout is "Connection timed out", EOF "Connection lost". */
export async function command(login: CliLogin, line: string, timeoutMs: number): Promise<string> {
  await login.session.sendLine(line);
  return (await expectPrompt(login, timeoutMs)).before;
}

export async function expectPrompt(login: CliLogin, timeoutMs: number): Promise<ExpectResult> {
  try {
    return await login.session.expect(login.prompts, timeoutMs);
  } catch (err) {
    if (err instanceof ExpectTimeout) throw new FenceError('Connection timed out');
    if (err instanceof ExpectEof) throw new FenceError('Connection lost');
    throw err;
  }
}

/** Logs out with the device's command and closes, ignoring a device that already hung up. */
export async function logout(login: CliLogin, line: string): Promise<void> {
  await login.session.sendLine(line).catch(() => {});
  await login.session.close().catch(() => {});
}

/** Text lines of device output, whatever its line ends. */
export const textLines = (text: string) => text.split(/\r\n|\r|\n/);
