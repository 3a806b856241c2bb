/**
 * Where the coordinator's API listens (`serve`) and where the client commands find it. Highest precedence first:
 * flags, environment, the config file's `[api]` section (and its FILE.d drop-ins), defaults. The integrator adds
 * the rest of `serve`'s settings (etcd endpoints, secrets directory, ...) here.
 */
import { existsSync } from 'node:fs';
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from '../../coordinator/api/server.js';
import { ConfigError } from '../config-error.js';
import { readConfigLayers } from '../config-files.js';

export const DEFAULT_COORDINATOR_CONFIG = '/etc/vdsm-ts/coordinator.conf';

export interface CoordinatorCliConfig {
  /** The file read, or null when none. */
  configFile: string | null;
  /** The API's listen address (`serve`). */
  listen: string;
  /** The API's port (`serve`); 0 picks a free one. */
  port: number;
  /** The API the client commands call. */
  url: string;
}

export interface ConfigFlags {
  config?: string;
  listen?: string;
  port?: string;
  url?: string;
}

/** The address a client on this machine uses for a listen address (a wildcard means this machine's loopback). */
function connectHost(listen: string): string {
  if (listen === '' || listen === '0.0.0.0') return '127.0.0.1';
  if (listen === '::') return '[::1]';
  return listen.includes(':') ? `[${listen}]` : listen;
}

function parsePort(text: string, source: string): number {
  if (!/^\s*\d{1,5}\s*$/.test(text) || Number(text) > 65535)
    throw new ConfigError(`the API port must be a number from 0 to 65535, not "${text}" (${source})`);
  return Number(text);
}

/** A URL the client may call: http or https, no credentials (they would end up in argv and logs), no query. */
export function checkUrl(text: string, source: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`the API URL must be like http://127.0.0.1:${DEFAULT_API_PORT}, not "${text}" (${source})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`the API URL must be http or https (${source})`);
  if (url.username || url.password) throw new ConfigError(`the API URL must not carry credentials (${source})`);
  if (url.search || url.hash) throw new ConfigError(`the API URL must not carry a query or fragment (${source})`);
  return url.href.replace(/\/$/, '');
}

export function loadCoordinatorConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): CoordinatorCliConfig {
  const explicit = flags.config ?? env.VDSM_TS_COORDINATOR_CONFIG;
  const configFile = explicit ?? (existsSync(DEFAULT_COORDINATOR_CONFIG) ? DEFAULT_COORDINATOR_CONFIG : null);
  const layers = configFile === null ? [] : readConfigLayers(configFile);
  const fromFile = (key: string): { text: string; source: string } | undefined => {
    for (const layer of [...layers].reverse()) {
      const value = layer.sections.api?.[key];
      if (value !== undefined) return { text: String(value), source: `[api] ${key} in ${layer.file}` };
    }
    return undefined;
  };
  const pick = (flag: string | undefined, flagName: string, envName: string, key: string, dflt: string) => {
    if (flag !== undefined) return { text: flag, source: `--${flagName}` };
    const fromEnv = env[envName];
    if (fromEnv !== undefined) return { text: fromEnv, source: `$${envName}` };
    return fromFile(key) ?? { text: dflt, source: 'default' };
  };
  const listen = pick(flags.listen, 'listen', 'VDSM_TS_COORDINATOR_LISTEN', 'listen', DEFAULT_API_HOST).text;
  const portGiven = pick(flags.port, 'port', 'VDSM_TS_COORDINATOR_PORT', 'port', String(DEFAULT_API_PORT));
  const port = parsePort(portGiven.text, portGiven.source);
  const urlGiven = pick(flags.url, 'url', 'VDSM_TS_COORDINATOR_URL', 'url', `http://${connectHost(listen)}:${port}`);
  return { configFile, listen, port, url: checkUrl(urlGiven.text, urlGiven.source) };
}
