/**
 * The menu user interface of older APC cards (AOS v2/v3, MasterSwitch plus): numbered screens with a `>` prompt,
 * Ctrl-C back to the main menu. Every call starts and ends at the main menu (docs/fence.md, APC menu interface).
 */
import { FenceError, type FenceOptions, type Power, type PlugInfo } from '../../src/plugins/fence/agent.js';
import { type CliLogin, command, expectPrompt } from '../../src/plugins/fence/transports/cli-session.js';
import { ms } from '../../src/plugins/fence/validate.js';

/** Pause upstream keeps before answering a screen (a fix for cards that time out when answered at once). */
const SETTLE_MS = 500;
const PAUSE = /Press <ENTER>/;
/** An outlet row of the list: `<n>- <name>   ON|OFF` (the state as the card writes it). */
const ROW = /(?:^|\r)\s*(\d+)- (.*?)\s+(ON|OFF)\s*/;

const sleep = (t: number) => new Promise((resolve) => setTimeout(resolve, t));
/** Waits for one pattern (not the prompt), with the usual timeout/EOF failures. */
const waitFor = (apc: CliLogin, pattern: RegExp, timeoutMs: number) =>
  expectPrompt({ ...apc, prompts: [pattern] }, timeoutMs);

interface Layout {
  /** MasterSwitch plus: outlets per switch, and its own action codes. */
  switched: boolean;
  /** Screens between choosing an outlet and its control screen (each answered with `1`). */
  controlSteps: number;
}

/** Main menu → the outlet list, by the layout the Device Manager screen shows. */
async function openOutletList(apc: CliLogin, plug: string | undefined, opts: FenceOptions): Promise<Layout> {
  const shell = ms(opts, 'shell_timeout');
  const screen = await command(apc, '1', shell);
  const switched = / MasterSwitch plus/i.test(screen);
  const v3 = /Outlet Management/i.test(screen);
  const admin = /Outlet Control\/Configuration/i.test(screen);
  let restriction = false;
  if (switched) {
    const given = plug?.includes(':') ? plug.slice(0, plug.indexOf(':')) : opts.switch;
    if (typeof given !== 'string' && / MasterSwitch plus 2/i.test(screen))
      throw new FenceError('Failed: You have to enter physical switch number');
    await apc.session.sendLine(typeof given === 'string' ? given : '1');
  } else if (!v3) {
    await apc.session.sendLine(admin ? '3' : '2');
  } else {
    restriction = /2- Outlet Restriction/i.test(await command(apc, '2', shell));
    await apc.session.sendLine('1');
  }
  return { switched, controlSteps: switched ? 1 : Number(admin) + Number(restriction) };
}

/** Reads the outlet list to its end, answering "Press <ENTER>" between pages. */
async function readOutletList(apc: CliLogin, opts: FenceOptions): Promise<Map<string, PlugInfo>> {
  const found = new Map<string, PlugInfo>();
  const pages = { ...apc, prompts: [PAUSE, ...apc.prompts] };
  for (;;) {
    const page = await expectPrompt(pages, ms(opts, 'shell_timeout'));
    for (const line of page.before.split('\n')) {
      const m = ROW.exec(line);
      if (m) found.set(m[1]!, { plug: m[1]!, alias: m[2]!, state: m[3]! });
    }
    if (page.index !== 0) return found;
    await sleep(SETTLE_MS);
    await apc.session.sendLine('');
  }
}

/** Ctrl-C back to the main menu. */
async function toMainMenu(apc: CliLogin, opts: FenceOptions): Promise<void> {
  await apc.session.send('\x03');
  await waitFor(apc, /- Logout/, ms(opts, 'shell_timeout'));
  await expectPrompt(apc, ms(opts, 'shell_timeout'));
}

export async function menuOutlets(apc: CliLogin, opts: FenceOptions, plug?: string): Promise<PlugInfo[]> {
  await openOutletList(apc, plug, opts);
  const outlets = await readOutletList(apc, opts);
  await toMainMenu(apc, opts);
  return [...outlets.values()];
}

export async function menuSetPower(
  apc: CliLogin,
  plug: string | undefined,
  outlet: string,
  want: Power,
  opts: FenceOptions,
): Promise<void> {
  const shell = ms(opts, 'shell_timeout');
  const power = ms(opts, 'power_timeout');
  const layout = await openOutletList(apc, plug, opts);
  await readOutletList(apc, opts);
  await command(apc, outlet, shell);
  for (let i = 0; i < layout.controlSteps; i++) await command(apc, '1', shell);
  await apc.session.sendLine(want === 'on' ? '1' : layout.switched ? '3' : '2');
  await waitFor(apc, /Enter 'YES' to continue or <ENTER> to cancel :/, shell);
  await apc.session.sendLine('YES');
  await waitFor(apc, /Press <ENTER> to continue\.\.\./, power);
  await sleep(SETTLE_MS);
  await apc.session.sendLine('');
  await expectPrompt(apc, power);
  await toMainMenu(apc, opts);
}
