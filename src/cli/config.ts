import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseIni } from 'ini';
import { LOG_LEVELS } from './log.js';

export const DEFAULT_CONFIG_FILE = '/etc/vdsm/vdsm.conf';

export interface VdsmdConfig {
  /** Address to listen on. */
  bind: string;
  port: number;
  ssl: boolean;
  sslKey: string;
  sslCert: string;
  sslCa: string;
  logLevel: string;
  /** Directory of drop-in fence agent plugins (`*.js`); a missing directory is fine. */
  fencePluginDir: string;
  /** libvirt connection URI; `test:///default` is libvirt's in-process test driver (no daemon). */
  libvirtUri: string;
  /** Seconds between bulk VM statistics samples (vdsm's vm_sample_interval). */
  vmSampleInterval: number;
  /** Seconds a started VM reports "Powering up" before "Up" when no guest agent speaks (vdsm: 60). */
  guestWaitTimeout: number;
  /** hosted-engine.conf: when it exists, vdsmd reports HA through the local HA broker. */
  heConf: string;
  /** The file the settings came from, or null for the embedded default. */
  configFile: string | null;
}

export const HELP = `Usage: vdsmd [options]

The vdsm-ts host service: JSON-RPC 2.0 over STOMP 1.2 on one port, as the oVirt engine expects.

Settings come from, highest precedence first: flags, environment, the config file, defaults.
Config file: --config FILE, else $VDSM_CONFIG, else ${DEFAULT_CONFIG_FILE} when it exists.
Without any config file vdsmd runs its embedded default: plaintext on 127.0.0.1:54321 (a development setup).
With a config file the production defaults apply: TLS with client certificates required, listening on ::.

  flag              environment        config file (INI)            default
  --config FILE     VDSM_CONFIG        -                             ${DEFAULT_CONFIG_FILE} if present
  --bind ADDR       VDSM_BIND          [addresses] management_ip     :: (embedded: 127.0.0.1)
  --port N          VDSM_PORT          [addresses] management_port   54321 (0 picks a free port)
  --ssl true|false  VDSM_SSL           [vars] ssl                    true (embedded: false)
  --ssl-key FILE    VDSM_SSL_KEY       [vars] ssl_key                /etc/pki/vdsm/keys/vdsmkey.pem
  --ssl-cert FILE   VDSM_SSL_CERT      [vars] ssl_cert               /etc/pki/vdsm/certs/vdsmcert.pem
  --ssl-ca FILE     VDSM_SSL_CA        [vars] ssl_ca                 /etc/pki/vdsm/certs/cacert.pem
  --log-level L     VDSM_LOG_LEVEL     [logging] level               info (${LOG_LEVELS.join('|')})
  --fence-plugin-dir DIR
                    VDSM_FENCE_PLUGIN_DIR [fence] plugin_dir         /usr/lib/vdsm-ts/fence.d
  --libvirt-uri URI VDSM_LIBVIRT_URI   [virt] libvirt_uri             qemu:///system (embedded: test:///default)
  --vm-sample-interval S
                    VDSM_VM_SAMPLE_INTERVAL [vars] vm_sample_interval  15
  --guest-wait-timeout S
                    VDSM_GUEST_WAIT_TIMEOUT [virt] guest_wait_timeout  60 (seconds of "Powering up" without a guest agent)
  --he-conf FILE    VDSM_HE_CONF       [hosted_engine] conf           /etc/ovirt-hosted-engine/hosted-engine.conf
  -h, --help        print this help

With ssl, every client must present a certificate signed by the CA in ssl_ca (mutual TLS).
Logs are JSON lines on stdout: one per request with method, duration (ms) and result code.
`;

/** How vdsmd serves, in words for the start-up log: e.g. "TLS with client certificates, loopback only". */
export function describeServing(config: VdsmdConfig): string {
  const loopback = /^(127\.|::1$|localhost$)/.test(config.bind);
  return `${config.ssl ? 'TLS with client certificates' : 'plaintext'}, ${loopback ? 'loopback only' : `on ${config.bind}`}`;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Source = Partial<Record<keyof Omit<VdsmdConfig, 'configFile'>, string>>;

/** Resolves the effective configuration, or throws ConfigError with a message fit for the admin. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): VdsmdConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string' },
      bind: { type: 'string' },
      port: { type: 'string' },
      ssl: { type: 'string' },
      'ssl-key': { type: 'string' },
      'ssl-cert': { type: 'string' },
      'ssl-ca': { type: 'string' },
      'log-level': { type: 'string' },
      'fence-plugin-dir': { type: 'string' },
      'libvirt-uri': { type: 'string' },
      'vm-sample-interval': { type: 'string' },
      'guest-wait-timeout': { type: 'string' },
      'he-conf': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';

  const explicit = values.config ?? env.VDSM_CONFIG;
  const configFile = explicit ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
  const file = configFile ? readConfigFile(configFile) : {};
  const fromEnv: Source = {
    bind: env.VDSM_BIND,
    port: env.VDSM_PORT,
    ssl: env.VDSM_SSL,
    sslKey: env.VDSM_SSL_KEY,
    sslCert: env.VDSM_SSL_CERT,
    sslCa: env.VDSM_SSL_CA,
    logLevel: env.VDSM_LOG_LEVEL,
    fencePluginDir: env.VDSM_FENCE_PLUGIN_DIR,
    libvirtUri: env.VDSM_LIBVIRT_URI,
    vmSampleInterval: env.VDSM_VM_SAMPLE_INTERVAL,
    guestWaitTimeout: env.VDSM_GUEST_WAIT_TIMEOUT,
    heConf: env.VDSM_HE_CONF,
  };
  const fromFlags: Source = {
    bind: values.bind,
    port: values.port,
    ssl: values.ssl,
    sslKey: values['ssl-key'],
    sslCert: values['ssl-cert'],
    sslCa: values['ssl-ca'],
    logLevel: values['log-level'],
    fencePluginDir: values['fence-plugin-dir'],
    libvirtUri: values['libvirt-uri'],
    vmSampleInterval: values['vm-sample-interval'],
    guestWaitTimeout: values['guest-wait-timeout'],
    heConf: values['he-conf'],
  };
  const pick = (key: keyof Source, fallback: string) => fromFlags[key] ?? fromEnv[key] ?? file[key] ?? fallback;
  const embedded = configFile === null;

  const logLevel = pick('logLevel', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`log level must be one of ${LOG_LEVELS.join(', ')}, not "${logLevel}"`);
  return {
    bind: pick('bind', embedded ? '127.0.0.1' : '::'),
    port: parsePort(pick('port', '54321')),
    ssl: parseBool('ssl', pick('ssl', embedded ? 'false' : 'true')),
    sslKey: pick('sslKey', '/etc/pki/vdsm/keys/vdsmkey.pem'),
    sslCert: pick('sslCert', '/etc/pki/vdsm/certs/vdsmcert.pem'),
    sslCa: pick('sslCa', '/etc/pki/vdsm/certs/cacert.pem'),
    logLevel,
    fencePluginDir: pick('fencePluginDir', '/usr/lib/vdsm-ts/fence.d'),
    libvirtUri: pick('libvirtUri', embedded ? 'test:///default' : 'qemu:///system'),
    vmSampleInterval: parseSeconds('vm_sample_interval', pick('vmSampleInterval', '15')),
    guestWaitTimeout: parseSeconds('guest_wait_timeout', pick('guestWaitTimeout', '60')),
    heConf: pick('heConf', '/etc/ovirt-hosted-engine/hosted-engine.conf'),
    configFile,
  };
}

function readConfigFile(path: string): Source {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const ini = parseIni(text) as Record<string, Record<string, unknown> | undefined>;
  const get = (section: string, key: string) => {
    const v = ini[section]?.[key];
    return v === undefined ? undefined : String(v);
  };
  return {
    bind: get('addresses', 'management_ip'),
    port: get('addresses', 'management_port'),
    ssl: get('vars', 'ssl'),
    sslKey: get('vars', 'ssl_key'),
    sslCert: get('vars', 'ssl_cert'),
    sslCa: get('vars', 'ssl_ca'),
    logLevel: get('logging', 'level'),
    fencePluginDir: get('fence', 'plugin_dir'),
    libvirtUri: get('virt', 'libvirt_uri'),
    vmSampleInterval: get('vars', 'vm_sample_interval'),
    guestWaitTimeout: get('virt', 'guest_wait_timeout'),
    heConf: get('hosted_engine', 'conf'),
  };
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port > 65535) throw new ConfigError(`port must be a number from 0 to 65535, not "${text}"`);
  return port;
}

function parseSeconds(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 86400) throw new ConfigError(`${name} must be a number of seconds from 0 to 86400, not "${text}"`);
  return n;
}

function parseBool(name: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(t)) return true;
  if (['false', 'no', '0', 'off'].includes(t)) return false;
  throw new ConfigError(`${name} must be true or false, not "${text}"`);
}
