import { defineAgent, type FenceOptions, type PlugInfo } from '../../src/plugins/fence/agent.js';
import {
  type CliLogin,
  cliLogin,
  command,
  logout,
  promptPatterns,
  textLines,
} from '../../src/plugins/fence/transports/cli-session.js';
import { ms } from '../../src/plugins/fence/validate.js';
import { menuOutlets, menuSetPower } from './menu.js';

/** A logged-in card; `menu` when its firmware has the old menu interface instead of the command line. */
type Apc = CliLogin & { menu: boolean };

const PROMPTS = ['\n>', '\napc>'];
/** How ClusterLabs' metadata shows the default prompt list (Python's repr). */
const PROMPTS_TEXT = String.raw`['\n>', '\napc>']`;
const OUTLET = /^\s*(\d+): (.*): (On|Off)\s*$/i;

/** `--plug switch:outlet` is the old spelling of --switch plus --plug. */
function outletOf(plug: string | undefined): string {
  const p = plug ?? '';
  return p.includes(':') ? p.slice(p.indexOf(':') + 1) : p;
}

/** Every outlet. AOS v5+ command line: `olStatus all` lists every outlet as `<n>: <name>: On|Off`. */
async function outlets(apc: Apc, opts: FenceOptions, plug?: string): Promise<PlugInfo[]> {
  if (apc.menu) return menuOutlets(apc, opts, plug);
  const out: PlugInfo[] = [];
  for (const line of textLines(await command(apc, 'olStatus all', ms(opts, 'shell_timeout')))) {
    const m = OUTLET.exec(line);
    if (m) out.push({ plug: m[1]!, alias: m[2]!, state: m[3]! });
  }
  return out;
}

export default defineAgent<Apc>({
  name: 'fence_apc',
  shortdesc: 'Fence agent for APC over telnet/ssh',
  longdesc:
    'Powers an outlet of an APC switched PDU off, on or through a reboot via its Network Management Card, over ' +
    'telnet or SSH: the command line of AOS v5 and later, or the menu interface of older ' +
    'firmware (AOS v2/v3, MasterSwitch plus). Keep sessions short: the card serves one at a time, ' +
    'and a long one blocks fencing.',
  vendorUrl: 'http://www.apc.com',
  uses: ['ipaddr', 'login', 'passwd', 'cmd_prompt', 'secure', 'port', 'telnet'],
  options: [
    {
      key: 'switch',
      long: 'switch',
      short: 's',
      arg: 'id',
      type: 'string',
      order: 1,
      description: 'Switch number on a daisy-chained device',
    },
  ],
  defaults: { ipport: '23', cmd_prompt: PROMPTS_TEXT, ssh_options: '-1 -c blowfish' },
  connect: async (opts) => {
    const apc = await cliLogin(opts, promptPatterns(opts, PROMPTS, PROMPTS_TEXT));
    // ClusterLabs picks the UI by the last digit of the first "v<n>." in the banner: 5, 6 or 7 is the command line.
    const version = /\s*v(\d)*\./.exec(apc.banner)?.[1];
    return { ...apc, menu: !version || !['5', '6', '7'].includes(version) };
  },
  getPower: async (apc, plug, opts) => {
    const outlet = outletOf(plug);
    return (await outlets(apc, opts, plug)).find((o) => o.plug === outlet)?.state?.toLowerCase() ?? 'unknown';
  },
  setPower: async (apc, plug, want, opts) => {
    if (apc.menu) return menuSetPower(apc, plug, outletOf(plug), want, opts);
    await command(apc, `${want === 'on' ? 'olOn' : 'olOff'} ${outletOf(plug)}`, ms(opts, 'power_timeout'));
  },
  list: outlets,
  disconnect: (apc) => logout(apc, '4'),
});
