import { defineAgent, FenceError, type FenceOptions, type PlugInfo } from '../../src/plugins/fence/agent.js';
import {
  type CliLogin,
  cliLogin,
  command,
  expectPrompt,
  logout,
  promptPatterns,
  textLines,
} from '../../src/plugins/fence/transports/cli-session.js';
import { ms } from '../../src/plugins/fence/validate.js';

type Version = 'DRAC CMC' | 'DRAC MC' | 'DRAC 5';
interface Drac extends CliLogin {
  version: Version;
}

const PROMPTS = ['\\$', 'DRAC\\/MC:'];
/** How ClusterLabs' metadata shows the default prompt list (Python's repr). */
const PROMPTS_TEXT = String.raw`['\\$', 'DRAC\\/MC:']`;
const STATUS = /(^|: )(ON|OFF|Powering ON|Powering OFF)\s*$/im;

/** CMC and DRAC/MC address a server module; a DRAC 5 is the one server (its plug is ignored). */
function moduleOf(plug: string | undefined): string {
  if (plug === undefined) throw new FenceError('Failed: You have to enter module name (-n)');
  return plug;
}

/** getmodinfo rows of a CMC (`server-1  Present  ON ...`) or a DRAC/MC (`1 ----> server-1  Present  ON ...`). */
async function modules(drac: Drac, opts: FenceOptions): Promise<PlugInfo[]> {
  const row =
    drac.version === 'DRAC CMC' ? /^(\S*?)\s+Present\s*(ON|OFF)/ : /^\s*\S*\s*---->\s*(.*?)\s+Present\s*(ON|OFF)/;
  const out: PlugInfo[] = [];
  for (const line of textLines(await command(drac, 'getmodinfo', ms(opts, 'power_timeout')))) {
    const m = row.exec(line);
    if (m) out.push({ plug: m[1]!, alias: '', state: m[2]! });
  }
  return out;
}

export default defineAgent<Drac>({
  name: 'fence_drac5',
  shortdesc: 'Fence agent for Dell DRAC CMC/5',
  longdesc:
    'Powers a server off, on or through a reboot via the command line of its Dell Remote Access Controller: a DRAC 5, ' +
    'or a server module of a CMC or DRAC/MC chassis (plug = module name). Logs in over telnet (often disabled on the ' +
    'card by default) or SSH; the model is detected from the login screen unless --drac-version names it.',
  vendorUrl: 'http://www.dell.com',
  uses: ['ipaddr', 'login', 'passwd', 'cmd_prompt', 'secure', 'port', 'telnet'],
  defaults: { ipport: '23', cmd_prompt: PROMPTS_TEXT },
  plugOptional: true,
  options: [
    {
      key: 'drac_version',
      long: 'drac-version',
      short: 'd',
      arg: 'version',
      type: 'select',
      choices: ['DRAC CMC', 'DRAC MC', 'DRAC 5'],
      order: 1,
      description: 'Force DRAC version to use',
    },
  ],
  connect: async (opts) => {
    const login = await cliLogin(opts, promptPatterns(opts, PROMPTS, PROMPTS_TEXT));
    const forced =
      typeof opts.drac_version === 'string' && opts.drac_version !== '' ? (opts.drac_version as Version) : undefined;
    const version: Version =
      forced ??
      (login.banner.includes('CMC')
        ? 'DRAC CMC'
        : login.banner.includes('DRAC 5')
          ? 'DRAC 5'
          : login.prompt.includes('DRAC/MC')
            ? 'DRAC MC'
            : 'DRAC 5');
    return { ...login, version };
  },
  getPower: async (drac, plug, opts) => {
    if (drac.version === 'DRAC MC') {
      const module = moduleOf(plug);
      return (await modules(drac, opts)).find((m) => m.plug === module)?.state?.toLowerCase() ?? 'unknown';
    }
    const cmd =
      drac.version === 'DRAC CMC'
        ? `racadm serveraction powerstatus -m ${moduleOf(plug)}`
        : 'racadm serveraction powerstatus';
    const status = STATUS.exec(await command(drac, cmd, ms(opts, 'shell_timeout')))?.[2];
    if (status === undefined) return 'unknown';
    return ['on', 'powering on', 'powering off'].includes(status.toLowerCase()) ? 'on' : 'off';
  },
  setPower: async (drac, plug, want, opts) => {
    const action = want === 'on' ? 'powerup' : 'powerdown';
    const cmd =
      drac.version === 'DRAC CMC'
        ? `racadm serveraction ${action} -m ${moduleOf(plug)}`
        : drac.version === 'DRAC MC'
          ? `racadm serveraction -s ${moduleOf(plug)} ${action}`
          : `racadm serveraction ${action}`;
    // A device that took CR LF as two Enters answers with an empty screen: drop the LF and read the extra prompts.
    if ((await command(drac, cmd, ms(opts, 'power_timeout'))).trim() === '') {
      drac.session.eol = drac.session.eol.slice(0, -1) || drac.session.eol;
      await expectPrompt(drac, ms(opts, 'power_timeout'));
      await expectPrompt(drac, ms(opts, 'power_timeout'));
    }
  },
  list: async (drac, opts) => {
    if (drac.version !== 'DRAC 5') {
      // As ClusterLabs: a chassis needs a module for every action but list and monitor (list-status included).
      if (opts.action === 'list-status')
        moduleOf(typeof opts.port === 'string' && opts.port !== '' ? opts.port : undefined);
      return modules(drac, opts);
    }
    // A DRAC 5 is one server: ClusterLabs prints N/A (for list, list-status and monitor alike) and lists nothing.
    return 'N/A';
  },
  disconnect: (drac) => logout(drac, 'exit'),
});
