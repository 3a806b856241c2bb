import { z } from 'zod';
import { LOG_LEVELS } from './log.js';

/** How a setting's text becomes its value, and what the admin is told when it cannot. */
interface SettingType<S extends z.ZodType<unknown, string>> {
  schema: S;
  /** Completes "<label> must be …": e.g. "a number from 0 to 65535". */
  expect: string;
}

const TRUE = ['true', 'yes', '1', 'on'];
const FALSE = ['false', 'no', '0', 'off'];

const text = { schema: z.string(), expect: 'text' };
const port = {
  schema: z
    .string()
    .regex(/^\s*\d+\s*$/)
    .transform(Number)
    .pipe(z.number().max(65535)),
  expect: 'a number from 0 to 65535',
};
const bool = {
  schema: z
    .string()
    .transform((t) => t.trim().toLowerCase())
    .pipe(z.enum([...TRUE, ...FALSE]))
    .transform((t) => TRUE.includes(t)),
  expect: 'true or false',
};
const seconds = {
  schema: z
    .string()
    .refine((t) => t.trim() !== '')
    .transform(Number)
    .pipe(z.number().min(0).max(86400)),
  expect: 'a number of seconds from 0 to 86400',
};
const logLevel = { schema: z.enum(LOG_LEVELS), expect: `one of ${LOG_LEVELS.join(', ')}` };

/** One vdsmd setting: every place it can be given, its type, default and help. */
export interface Setting<S extends z.ZodType<unknown, string> = z.ZodType<unknown, string>> {
  /** Long flag without `--`. */
  flag: string;
  /** Placeholder of the flag's value in `--help`. */
  arg: string;
  env: string;
  ini: readonly [section: string, key: string];
  type: SettingType<S>;
  /** As text, parsed like any other source; `embedded` applies when vdsmd runs without a config file. */
  default: string | { production: string; embedded: string };
  help: string;
  /** What error messages call it; the INI key unless given. */
  label?: string;
}

const setting = <S extends z.ZodType<unknown, string>>(s: Setting<S>) => s;

/** Every vdsmd setting, in `--help` order. The config type, flags, environment and INI reading derive from it. */
export const SETTINGS = {
  bind: setting({
    flag: 'bind',
    arg: 'ADDR',
    env: 'VDSM_BIND',
    ini: ['addresses', 'management_ip'],
    type: text,
    default: { production: '::', embedded: '127.0.0.1' },
    help: 'Address to listen on (:: is every IPv4 and IPv6 address).',
  }),
  port: setting({
    flag: 'port',
    arg: 'N',
    env: 'VDSM_PORT',
    ini: ['addresses', 'management_port'],
    type: port,
    default: '54321',
    help: 'Port the engine connects to; 0 picks a free port.',
    label: 'port',
  }),
  ssl: setting({
    flag: 'ssl',
    arg: 'true|false',
    env: 'VDSM_SSL',
    ini: ['vars', 'ssl'],
    type: bool,
    default: { production: 'true', embedded: 'false' },
    help: 'TLS; every client must then present a certificate signed by the CA in ssl_ca (mutual TLS).',
  }),
  sslKey: setting({
    flag: 'ssl-key',
    arg: 'FILE',
    env: 'VDSM_SSL_KEY',
    ini: ['vars', 'ssl_key'],
    type: text,
    default: '/etc/pki/vdsm/keys/vdsmkey.pem',
    help: "The host certificate's private key.",
  }),
  sslCert: setting({
    flag: 'ssl-cert',
    arg: 'FILE',
    env: 'VDSM_SSL_CERT',
    ini: ['vars', 'ssl_cert'],
    type: text,
    default: '/etc/pki/vdsm/certs/vdsmcert.pem',
    help: 'The host certificate.',
  }),
  sslCa: setting({
    flag: 'ssl-ca',
    arg: 'FILE',
    env: 'VDSM_SSL_CA',
    ini: ['vars', 'ssl_ca'],
    type: text,
    default: '/etc/pki/vdsm/certs/cacert.pem',
    help: 'The CA that signs client certificates.',
  }),
  logLevel: setting({
    flag: 'log-level',
    arg: 'L',
    env: 'VDSM_LOG_LEVEL',
    ini: ['logging', 'level'],
    type: logLevel,
    default: 'info',
    help: `How much to log: ${LOG_LEVELS.join('|')}.`,
    label: 'log level',
  }),
  fencePluginDir: setting({
    flag: 'fence-plugin-dir',
    arg: 'DIR',
    env: 'VDSM_FENCE_PLUGIN_DIR',
    ini: ['fence', 'plugin_dir'],
    type: text,
    default: '/usr/lib/vdsm-ts/fence.d',
    help: 'Directory of drop-in fence agent plugins (*.js); a missing directory is fine.',
  }),
  libvirtUri: setting({
    flag: 'libvirt-uri',
    arg: 'URI',
    env: 'VDSM_LIBVIRT_URI',
    ini: ['virt', 'libvirt_uri'],
    type: text,
    default: { production: 'qemu:///system', embedded: 'test:///default' },
    help: "libvirt connection URI; test:///default is libvirt's in-process test driver (no daemon).",
  }),
  vmSampleInterval: setting({
    flag: 'vm-sample-interval',
    arg: 'S',
    env: 'VDSM_VM_SAMPLE_INTERVAL',
    ini: ['vars', 'vm_sample_interval'],
    type: seconds,
    default: '15',
    help: 'Seconds between bulk VM statistics samples.',
  }),
  guestWaitTimeout: setting({
    flag: 'guest-wait-timeout',
    arg: 'S',
    env: 'VDSM_GUEST_WAIT_TIMEOUT',
    ini: ['virt', 'guest_wait_timeout'],
    type: seconds,
    default: '60',
    help: 'Seconds a started VM reports "Powering up" before "Up" when no guest agent speaks.',
  }),
  heConf: setting({
    flag: 'he-conf',
    arg: 'FILE',
    env: 'VDSM_HE_CONF',
    ini: ['hosted_engine', 'conf'],
    type: text,
    default: '/etc/ovirt-hosted-engine/hosted-engine.conf',
    help: 'hosted-engine.conf; where it exists, vdsmd reports HA through the local HA broker.',
  }),
};

export type SettingName = keyof typeof SETTINGS;

/** The effective value of every setting. */
export type SettingValues = { [K in SettingName]: z.output<(typeof SETTINGS)[K]['type']['schema']> };

/** The zod object that turns every setting's text into its value at once. */
export const settingsSchema = z.object(
  Object.fromEntries(Object.entries(SETTINGS).map(([name, s]) => [name, s.type.schema])) as {
    [K in SettingName]: (typeof SETTINGS)[K]['type']['schema'];
  },
);
