export type OptionType = 'string' | 'boolean' | 'integer' | 'second' | 'select';

/** One option as ClusterLabs' agents know it: stdin key, command-line forms, type, default and metadata order. */
export interface OptionSpec {
  /** The stdin key and metadata name of the old form (`ipaddr`, `login`, `passwd`, `port`, ...). */
  key: string;
  /** Long command-line name without `--`; where it differs from the key, metadata lists both names. */
  long?: string;
  short?: string;
  /** Placeholder shown in metadata's getopt (`--ip=[ip]`); omitted for flags. */
  arg?: string;
  type: OptionType;
  choices?: string[];
  default?: string;
  /** Metadata sorts parameters by this, then by name (upstream's numbers). */
  order: number;
  /**
   * Shown as required in metadata. The framework itself checks only the common options (address, login, password,
   * plug); an agent checks its own required options in `connect` and throws a FenceError saying which is missing.
   */
  required?: boolean;
  description: string;
  /** Never logged, echoed or passed in a child's argv. */
  secret?: boolean;
}

export const takesValue = (o: OptionSpec) => o.type !== 'boolean';
/** The "new" name metadata prints with `obsoletes=` when the long name differs from the key. */
export const newName = (o: OptionSpec) => (o.long ? o.long.replace(/-/g, '_') : o.key);

const o = (spec: OptionSpec) => spec;

/** The options every agent has (upstream's "default" set). */
export const BASE_OPTIONS: OptionSpec[] = [
  o({
    key: 'action',
    long: 'action',
    short: 'o',
    arg: 'action',
    type: 'string',
    default: 'reboot',
    order: 1,
    required: true,
    description: 'Fencing action',
  }),
  o({
    key: 'quiet',
    long: 'quiet',
    short: 'q',
    type: 'boolean',
    order: 50,
    description: 'Write nothing to standard error',
  }),
  o({
    key: 'verbose',
    long: 'verbose',
    short: 'v',
    type: 'boolean',
    order: 51,
    description: 'Log in more detail (repeat for more)',
  }),
  o({ key: 'verbose_level', long: 'verbose-level', type: 'integer', order: 52, description: 'How much detail to log' }),
  o({
    key: 'debug',
    long: 'debug-file',
    short: 'D',
    arg: 'debugfile',
    type: 'string',
    order: 53,
    description: 'Also write the log to this file',
  }),
  o({
    key: 'version',
    long: 'version',
    short: 'V',
    type: 'boolean',
    order: 54,
    description: 'Print the version and exit',
  }),
  o({ key: 'help', long: 'help', short: 'h', type: 'boolean', order: 55, description: 'Print usage and exit' }),
  o({
    key: 'delay',
    long: 'delay',
    arg: 'seconds',
    type: 'second',
    default: '0',
    order: 200,
    description: 'Seconds to wait before an off or reboot starts',
  }),
  o({
    key: 'disable_timeout',
    long: 'disable-timeout',
    arg: 'true/false',
    type: 'string',
    order: 200,
    description: 'Leave all timeouts to the caller (on by default under Pacemaker)',
  }),
  o({
    key: 'login_timeout',
    long: 'login-timeout',
    arg: 'seconds',
    type: 'second',
    default: '5',
    order: 200,
    description: 'Seconds to wait for the device after logging in',
  }),
  o({
    key: 'power_timeout',
    long: 'power-timeout',
    arg: 'seconds',
    type: 'second',
    default: '20',
    order: 200,
    description: 'Seconds to wait for the power state to change',
  }),
  o({
    key: 'power_wait',
    long: 'power-wait',
    arg: 'seconds',
    type: 'second',
    default: '0',
    order: 200,
    description: 'Seconds to wait after each power command',
  }),
  o({
    key: 'shell_timeout',
    long: 'shell-timeout',
    arg: 'seconds',
    type: 'second',
    default: '3',
    order: 200,
    description: 'Seconds to wait for the device to answer a command',
  }),
  o({
    key: 'stonith_status_sleep',
    long: 'stonith-status-sleep',
    arg: 'seconds',
    type: 'second',
    default: '1',
    order: 200,
    description: 'Seconds between two status reads while waiting',
  }),
  o({
    key: 'retry_on',
    long: 'retry-on',
    arg: 'attempts',
    type: 'integer',
    default: '1',
    order: 201,
    description: 'Extra attempts at powering on',
  }),
];

/**
 * Options an agent opts into by key, with what each pulls in (upstream's dependency table): those the framework
 * and its shared transports read. An option that only one agent reads is declared by that agent (`options`).
 */
export const OPTIONAL_OPTIONS: Record<string, OptionSpec[]> = {
  ipaddr: [
    o({
      key: 'ipaddr',
      long: 'ip',
      short: 'a',
      arg: 'ip',
      type: 'string',
      order: 1,
      required: true,
      description: 'Address or host name of the fence device',
    }),
    o({
      key: 'ipport',
      long: 'ipport',
      short: 'u',
      arg: 'port',
      type: 'integer',
      order: 1,
      description: 'TCP or UDP port of the fence device',
    }),
  ],
  login: [
    o({
      key: 'login',
      long: 'username',
      short: 'l',
      arg: 'name',
      type: 'string',
      order: 1,
      description: 'User name on the fence device',
    }),
  ],
  passwd: [
    o({
      key: 'passwd',
      long: 'password',
      short: 'p',
      arg: 'password',
      type: 'string',
      order: 1,
      secret: true,
      description: 'Password on the fence device',
    }),
    o({
      key: 'passwd_script',
      long: 'password-script',
      short: 'S',
      arg: 'script',
      type: 'string',
      order: 1,
      description: 'Program whose output is the password (run without a shell)',
    }),
  ],
  port: [
    o({
      key: 'port',
      long: 'plug',
      short: 'n',
      arg: 'id',
      type: 'string',
      order: 1,
      required: true,
      description: 'Plug number, name or machine identifier on the device',
    }),
    o({
      key: 'plug_separator',
      long: 'plug-separator',
      arg: 'char',
      type: 'string',
      default: ',',
      order: 100,
      description: 'Separator between several plugs',
    }),
  ],
  separator: [
    o({
      key: 'separator',
      long: 'separator',
      short: 'C',
      arg: 'char',
      type: 'string',
      default: ',',
      order: 100,
      description: 'Column separator of list output',
    }),
  ],
  port_as_ip: [
    o({
      key: 'port_as_ip',
      long: 'port-as-ip',
      type: 'boolean',
      order: 200,
      description: 'Take the device address from the plug option',
    }),
  ],
  method: [
    o({
      key: 'method',
      long: 'method',
      short: 'm',
      arg: 'method',
      type: 'select',
      choices: ['onoff', 'cycle'],
      default: 'onoff',
      order: 1,
      description: 'How to reboot: off then on, or one power cycle',
    }),
  ],
  secure: [
    o({ key: 'secure', long: 'ssh', short: 'x', type: 'boolean', order: 1, description: 'Use SSH instead of telnet' }),
    o({
      key: 'identity_file',
      long: 'identity-file',
      short: 'k',
      arg: 'filename',
      type: 'string',
      order: 1,
      description: 'SSH private key file',
    }),
    o({
      key: 'ssh_options',
      long: 'ssh-options',
      arg: 'options',
      type: 'string',
      order: 1,
      description: 'Extra SSH options',
    }),
    o({
      key: 'inet4_only',
      long: 'inet4-only',
      short: '4',
      type: 'boolean',
      order: 1,
      description: 'Connect over IPv4 only',
    }),
    o({
      key: 'inet6_only',
      long: 'inet6-only',
      short: '6',
      type: 'boolean',
      order: 1,
      description: 'Connect over IPv6 only',
    }),
    o({
      key: 'ssh_path',
      long: 'ssh-path',
      arg: 'path',
      type: 'string',
      default: '/usr/bin/ssh',
      order: 300,
      description: 'Path of ssh (kept for compatibility; SSH is built in)',
    }),
  ],
  telnet: [
    o({
      key: 'telnet_path',
      long: 'telnet-path',
      arg: 'path',
      type: 'string',
      default: '/usr/bin/telnet',
      order: 300,
      description: 'Path of telnet (kept for compatibility; telnet is built in)',
    }),
  ],
  cmd_prompt: [
    o({
      key: 'cmd_prompt',
      long: 'command-prompt',
      short: 'c',
      arg: 'prompt',
      type: 'string',
      order: 1,
      description: 'Regular expression of the command prompt',
    }),
  ],
  snmp_version: [
    o({
      key: 'snmp_version',
      long: 'snmp-version',
      short: 'd',
      arg: 'version',
      type: 'select',
      choices: ['1', '2c', '3'],
      order: 1,
      description: 'SNMP version',
    }),
  ],
  snmp: [
    o({
      key: 'community',
      long: 'community',
      short: 'c',
      arg: 'community',
      type: 'string',
      order: 1,
      secret: true,
      description: 'SNMP community',
    }),
    o({
      key: 'snmp_auth_prot',
      long: 'snmp-auth-prot',
      short: 'b',
      arg: 'prot',
      type: 'select',
      choices: ['MD5', 'SHA'],
      order: 1,
      description: 'SNMPv3 authentication protocol',
    }),
    o({
      key: 'snmp_sec_level',
      long: 'snmp-sec-level',
      short: 'E',
      arg: 'level',
      type: 'select',
      choices: ['noAuthNoPriv', 'authNoPriv', 'authPriv'],
      order: 1,
      description: 'SNMPv3 security level',
    }),
    o({
      key: 'snmp_priv_prot',
      long: 'snmp-priv-prot',
      short: 'B',
      arg: 'prot',
      type: 'select',
      choices: ['DES', 'AES'],
      order: 1,
      description: 'SNMPv3 privacy protocol',
    }),
    o({
      key: 'snmp_priv_passwd',
      long: 'snmp-priv-passwd',
      short: 'P',
      arg: 'pass',
      type: 'string',
      order: 1,
      secret: true,
      description: 'SNMPv3 privacy password',
    }),
    o({
      key: 'snmp_priv_passwd_script',
      long: 'snmp-priv-passwd-script',
      short: 'R',
      type: 'string',
      order: 1,
      description: 'Program whose output is the SNMPv3 privacy password (run without a shell)',
    }),
    o({
      key: 'snmpget_path',
      long: 'snmpget-path',
      arg: 'path',
      type: 'string',
      default: '/usr/bin/snmpget',
      order: 300,
      description: 'Path of snmpget (kept for compatibility; SNMP is built in)',
    }),
    o({
      key: 'snmpset_path',
      long: 'snmpset-path',
      arg: 'path',
      type: 'string',
      default: '/usr/bin/snmpset',
      order: 300,
      description: 'Path of snmpset (kept for compatibility; SNMP is built in)',
    }),
    o({
      key: 'snmpwalk_path',
      long: 'snmpwalk-path',
      arg: 'path',
      type: 'string',
      default: '/usr/bin/snmpwalk',
      order: 300,
      description: 'Path of snmpwalk (kept for compatibility; SNMP is built in)',
    }),
  ],
};
