/**
 * What `vdsm-ts-coordinator serve` runs with, beyond where its API listens (config.ts): etcd, this replica, the
 * hosts' TLS and the core's policy. Read from the config file's sections and drop-ins (the last layer wins key by
 * key); every value is checked, and a bad one stops serve with the setting's name and file, never a default.
 */
import { hostname } from 'node:os';
import { DEFAULT_COORDINATOR_CONFIG as CORE_DEFAULTS, type CoordinatorConfig } from '../../coordinator/core/config.js';
import { ConfigError } from '../config-error.js';
import { readConfigLayers } from '../config-files.js';

export interface ServeConfig {
  /** etcd client URLs; empty: serve starts its own single member on loopback (the embedded default). */
  etcdEndpoints: string[];
  etcdDataDir: string;
  prefix: string;
  /** This replica's name in the election and the audit trail (never a secret). */
  name: string;
  ttlSeconds: number;
  tickMs: number;
  secretsDir: string;
  /**
   * The coordinator's client certificate for the hosts' mutual TLS (the engine's role); null: plaintext (the
   * embedded default, without a config file, or `[hosts] tls = false`).
   */
  hostsTls: { key: string; cert: string; ca: string } | null;
  policy: CoordinatorConfig;
}

export const SERVE_DEFAULTS = {
  etcdDataDir: '/var/lib/vdsm-ts/coordinator/etcd',
  prefix: '/vdsm-ts/coordinator/',
  ttlSeconds: 10,
  tickMs: 500,
  secretsDir: '/etc/vdsm-ts/coordinator/secrets',
  tls: {
    key: '/etc/pki/vdsm-ts/coordinator/key.pem',
    cert: '/etc/pki/vdsm-ts/coordinator/cert.pem',
    ca: '/etc/pki/vdsm-ts/coordinator/ca.pem',
  },
} as const;

type Layers = ReturnType<typeof readConfigLayers>;

function lookup(layers: Layers, section: string, key: string): { text: string; source: string } | undefined {
  for (const layer of [...layers].reverse()) {
    const value = layer.sections[section]?.[key];
    if (value !== undefined) return { text: String(value).trim(), source: `[${section}] ${key} in ${layer.file}` };
  }
  return undefined;
}

const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function number(v: { text: string; source: string }, min: number, max: number, integer: boolean): number {
  const n = Number(v.text);
  if (v.text === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
    throw new ConfigError(`${v.source} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
  return n;
}

function boolean(v: { text: string; source: string }): boolean {
  if (/^(true|yes|1|on)$/i.test(v.text)) return true;
  if (/^(false|no|0|off)$/i.test(v.text)) return false;
  throw new ConfigError(`${v.source} must be true or false`);
}

/** The [policy] section: any number of the core's settings by their snake_case names; unknown names are refused. */
function policyFrom(layers: Layers): CoordinatorConfig {
  const policy: CoordinatorConfig = structuredClone(CORE_DEFAULTS) as CoordinatorConfig;
  const known = new Map(Object.keys(CORE_DEFAULTS).map((k) => [snake(k), k as keyof CoordinatorConfig]));
  for (const layer of layers) {
    for (const key of Object.keys(layer.sections.policy ?? {})) {
      const name = known.get(key);
      const value = lookup([layer], 'policy', key)!;
      if (!name) throw new ConfigError(`${value.source}: no such policy setting (see docs/coordinator.md, "Defaults")`);
      const current = policy[name];
      if (typeof current === 'number')
        (policy as unknown as Record<string, number>)[name] = number(value, 0, 1e6, false);
      else if (typeof current === 'boolean') (policy as unknown as Record<string, boolean>)[name] = boolean(value);
      else if (name === 'defaultEvacuation') {
        if (value.text !== 'ha-only' && value.text !== 'all')
          throw new ConfigError(`${value.source} must be ha-only or all`);
        policy.defaultEvacuation = value.text;
      } else if (name === 'fencingDisabled') {
        policy.fencingDisabled = value.text
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      } else throw new ConfigError(`${value.source}: set per cluster in the inventory, not here`);
    }
  }
  return policy;
}

function endpoints(v: { text: string; source: string } | undefined): string[] {
  const list = (v?.text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const url of list) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`${v!.source}: "${url}" is not a URL like http://127.0.0.1:2379`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new ConfigError(`${v!.source}: etcd endpoints are http or https URLs`);
    if (parsed.username || parsed.password)
      throw new ConfigError(`${v!.source}: an endpoint must not carry credentials`);
  }
  return list;
}

export function loadServeConfig(configFile: string | null): ServeConfig {
  const layers: Layers = configFile === null ? [] : readConfigLayers(configFile);
  const text = (section: string, key: string, dflt: string) => lookup(layers, section, key)?.text || dflt;
  const num = (section: string, key: string, dflt: number, min: number, max: number) => {
    const v = lookup(layers, section, key);
    return v ? number(v, min, max, true) : dflt;
  };
  const tlsSetting = lookup(layers, 'hosts', 'tls');
  // Without a config file: the embedded default, plaintext to hosts as vdsmd's own embedded default serves it.
  const tls = tlsSetting ? boolean(tlsSetting) : configFile !== null;
  const prefix = text('etcd', 'prefix', SERVE_DEFAULTS.prefix);
  if (!prefix.startsWith('/') || !prefix.endsWith('/'))
    throw new ConfigError(`[etcd] prefix must start and end with "/", not "${prefix}"`);
  const name = text('coordinator', 'name', `${hostname()}-${process.pid}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name))
    throw new ConfigError('[coordinator] name: letters, digits, ".", "_" and "-" (at most 63)');
  const ttlSeconds = num('coordinator', 'ttl', SERVE_DEFAULTS.ttlSeconds, 2, 300);
  const policy = policyFrom(layers);
  // A new leader waits one lease TTL before fencing: the lease's, unless the policy says otherwise.
  if (lookup(layers, 'policy', 'leader_ttl') === undefined) policy.leaderTtl = ttlSeconds;
  return {
    etcdEndpoints: endpoints(lookup(layers, 'etcd', 'endpoints')),
    etcdDataDir: text('etcd', 'data_dir', SERVE_DEFAULTS.etcdDataDir),
    prefix,
    name,
    ttlSeconds,
    tickMs: num('coordinator', 'tick_ms', SERVE_DEFAULTS.tickMs, 50, 10_000),
    secretsDir: text('coordinator', 'secrets_dir', SERVE_DEFAULTS.secretsDir),
    hostsTls: tls
      ? {
          key: text('hosts', 'key_file', SERVE_DEFAULTS.tls.key),
          cert: text('hosts', 'cert_file', SERVE_DEFAULTS.tls.cert),
          ca: text('hosts', 'ca_file', SERVE_DEFAULTS.tls.ca),
        }
      : null,
    policy,
  };
}
