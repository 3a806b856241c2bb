/**
 * A line-oriented session with a device's command line (DRAC, APC, ...), over telnet or SSH, with
 * expect-style reading: what pexpect gives ClusterLabs' agents, in process and without child programs.
 */
import { FenceError, type FenceOptions } from '../agent.js';
import { ms } from '../validate.js';
import { type CliSession, ExpectEof, type ExpectResult, ExpectTimeout } from './buffered-session.js';
import { openSession } from './open-session.js';

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
    session = await openSession(opts, loginMs);
    if (opts.secure !== true) {
      await session.expect([RE_LOGIN], loginMs);
      await session.sendLine(user);
      // A device that shows the login prompt again did not take CR LF as one Enter: retry with LF alone.
      if ((await session.expect([RE_PASSWORD, RE_LOGIN], loginMs)).index === 1) {
        session.eol = '\n';
        await session.sendLine(user);
        await session.expect([RE_PASSWORD], loginMs);
      }
      if (password === undefined) throw new FenceError('Failed: You have to set login password');
      await session.sendLine(password, true);
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
