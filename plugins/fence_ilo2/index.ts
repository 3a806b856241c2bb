import { defineAgent } from '../../src/plugins/fence/agent.js';
import type { OptionSpec } from '../../src/plugins/fence/options.js';
import { num } from '../../src/plugins/fence/validate.js';
import { RibclSession } from './ribcl.js';

const options: OptionSpec[] = [
  {
    key: 'ribcl',
    long: 'ribcl-version',
    short: 'r',
    arg: 'version',
    type: 'string',
    order: 1,
    description: 'Force the RIBCL version to use',
  },
  {
    key: 'ssl',
    long: 'ssl',
    short: 'z',
    type: 'boolean',
    order: 1,
    description: 'Use TLS and verify the device certificate',
  },
  {
    key: 'ssl_insecure',
    long: 'ssl-insecure',
    type: 'boolean',
    order: 1,
    description: 'Use TLS without verifying the device certificate',
  },
  {
    key: 'ssl_secure',
    long: 'ssl-secure',
    type: 'boolean',
    order: 1,
    description: 'Use TLS and verify the device certificate',
  },
  {
    key: 'gnutlscli_path',
    long: 'gnutlscli-path',
    arg: 'path',
    type: 'string',
    default: '/usr/bin/gnutls-cli',
    order: 300,
    description: 'Path of gnutls-cli (kept for compatibility; TLS is built in)',
  },
  {
    key: 'notls',
    long: 'notls',
    short: 't',
    type: 'boolean',
    order: 1,
    description: 'Force the oldest protocol the device speaks',
  },
  { key: 'tls1.0', long: 'tls1.0', type: 'boolean', order: 1, description: 'Force TLS 1.0 for old devices' },
];

export default defineAgent<RibclSession>({
  name: 'fence_ilo2',
  shortdesc: 'Fence agent for HP iLO',
  longdesc:
    'Powers an HP server off, on or through a reboot via its iLO or iLO2 management processor, speaking RIBCL ' +
    'over TLS in process (no gnutls-cli). The device certificate is verified unless --ssl-insecure is given; ' +
    'a refused login or command fails at once.',
  vendorUrl: 'http://www.hp.com',
  aliases: [{ name: 'fence_ilo', shortdesc: 'Fence agent for HP iLO' }],
  uses: ['ipaddr', 'login', 'passwd'],
  options,
  defaults: { ipport: '443', ssl: '1', login_timeout: '10', retry_on: '3' },
  connect: (o) => RibclSession.open(o),
  getPower: async (s, _plug, o) =>
    (await s.command('SERVER_INFO', 'read', '<GET_HOST_POWER_STATUS/>', num(o, 'power_timeout'), 'GET_HOST_POWER'))
      .element('GET_HOST_POWER')
      ?.HOST_POWER?.trim()
      .toLowerCase() ?? 'unknown',
  setPower: async (s, _plug, want, o) => {
    // iLO2 after firmware 1.29 needs TOGGLE to act as the button; older iLO2 toggles anyway; old RIBCL sets.
    const fw = s.firmware;
    const body =
      fw?.processor === 'iLO2'
        ? fw.version > 1.29
          ? '<HOLD_PWR_BTN TOGGLE="yes"/>'
          : '<HOLD_PWR_BTN/>'
        : s.version < 2.21
          ? `<SET_HOST_POWER HOST_POWER="${want}"/>`
          : want === 'off'
            ? '<HOLD_PWR_BTN/>'
            : '<PRESS_PWR_BTN/>';
    await s.command('SERVER_INFO', 'write', body, num(o, 'shell_timeout'));
  },
  disconnect: async (s) => s.close(),
});
