import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from './config-error.js';
import { readConfigLayers, VENDOR_DROP_IN_DIRS, type ConfigLayer } from './config-files.js';
import { SETTINGS, settingsSchema, type Setting, type SettingName, type SettingValues } from './settings.js';

export { ConfigError } from './config-error.js';

export const DEFAULT_CONFIG_FILE = '/etc/vdsm/vdsm.conf';

export type VdsmdConfig = SettingValues & {
  /** The file the settings came from, or null for the embedded default. */
  configFile: string | null;
};

const NAMES = Object.keys(SETTINGS) as SettingName[];

const showDefault = (s: Setting) =>
  typeof s.default === 'string' ? s.default : `${s.default.production} (embedded: ${s.default.embedded})`;
const row = (flag: string, env: string, ini: string) => `  ${flag.padEnd(24)} ${env.padEnd(24)} ${ini}`.trimEnd();

export const HELP = `Usage: vdsmd [options]

The vdsm-ts host service: JSON-RPC 2.0 over STOMP 1.2 on one port, as the oVirt engine expects.

Settings come from, highest precedence first: flags, environment, the config file, defaults.
Config file: --config FILE, else $VDSM_CONFIG, else ${DEFAULT_CONFIG_FILE} when it exists; then the drop-ins
FILE.d/*.conf (for ${DEFAULT_CONFIG_FILE} also ${VENDOR_DROP_IN_DIRS.map((d) => `${d}/*.conf`).join(' and ')}), all
in lexical order of their file names, each overriding what comes before it key by key.
Without any config file vdsmd runs its embedded default: plaintext on 127.0.0.1:54321 (a development setup).
With a config file the production defaults apply: TLS with client certificates required, listening on ::.

${row('flag', 'environment', 'config file (INI)')}
${row('--config FILE', 'VDSM_CONFIG', '-')}
      The config file.
      Default: ${DEFAULT_CONFIG_FILE} if present
${NAMES.map((name) => {
  const s: Setting = SETTINGS[name];
  return `${row(`--${s.flag} ${s.arg}`, s.env, `[${s.ini[0]}] ${s.ini[1]}`)}\n      ${s.help}\n      Default: ${showDefault(s)}`;
}).join('\n')}
${row('-h, --help', '', '')}
      Print this help.

Logs are JSON lines on stdout: one per request with method, duration (ms) and result code.
`;

/** How vdsmd serves, in words for the start-up log: e.g. "TLS with client certificates, loopback only". */
export function describeServing(config: VdsmdConfig): string {
  const loopback = /^(127\.|::1$|localhost$)/.test(config.bind);
  return `${config.ssl ? 'TLS with client certificates' : 'plaintext'}, ${loopback ? 'loopback only' : `on ${config.bind}`}`;
}

/** A setting's text and where it was given, for error messages. */
interface Given {
  text: string;
  source: string;
}

/** Resolves the effective configuration, or throws ConfigError with a message fit for the admin. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): VdsmdConfig | 'help' {
  const options: NonNullable<ParseArgsConfig['options']> = {
    config: { type: 'string' },
    ...Object.fromEntries(NAMES.map((name) => [SETTINGS[name].flag, { type: 'string' }])),
    help: { type: 'boolean', short: 'h' },
  };
  const { values: flags } = parseArgs({ args: argv, strict: true, options });
  if (flags.help) return 'help';
  const flag = (name: string) => {
    const value = flags[name];
    return typeof value === 'string' ? value : undefined;
  };

  const explicit = flag('config') ?? env.VDSM_CONFIG;
  const configFile = explicit ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
  const layers =
    configFile === null
      ? []
      : readConfigLayers(configFile, configFile === DEFAULT_CONFIG_FILE ? VENDOR_DROP_IN_DIRS : []);
  const given = (name: SettingName): Given => {
    const s: Setting = SETTINGS[name];
    const fromFlag = flag(s.flag);
    if (fromFlag !== undefined) return { text: fromFlag, source: `--${s.flag}` };
    const fromEnv = env[s.env];
    if (fromEnv !== undefined) return { text: fromEnv, source: `$${s.env}` };
    return (
      fromFiles(s, layers) ?? {
        text: typeof s.default === 'string' ? s.default : s.default[configFile === null ? 'embedded' : 'production'],
        source: 'default',
      }
    );
  };

  const texts = Object.fromEntries(NAMES.map((name) => [name, given(name)]));
  const parsed = settingsSchema.safeParse(Object.fromEntries(NAMES.map((name) => [name, texts[name]!.text])));
  if (!parsed.success) {
    const name = NAMES.find((n) => n === parsed.error.issues[0]?.path[0])!;
    const s: Setting = SETTINGS[name];
    const { text, source } = texts[name]!;
    throw new ConfigError(`${s.label ?? s.ini[1]} must be ${s.type.expect}, not "${text}" (${source})`);
  }
  return { ...parsed.data, configFile };
}

/** The value from the last file that sets it: drop-ins override vdsm.conf, later drop-ins earlier ones. */
function fromFiles(s: Setting, layers: ConfigLayer[]): Given | undefined {
  const [section, key] = s.ini;
  for (const layer of [...layers].reverse()) {
    const value = layer.sections[section]?.[key];
    if (value !== undefined) return { text: String(value), source: `[${section}] ${key} in ${layer.file}` };
  }
  return undefined;
}
