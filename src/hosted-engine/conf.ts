import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG, type HaConfig } from './config.js';
import type { NetworkTest } from './monitors/types.js';

export const DEFAULT_CONF_FILE = '/etc/ovirt-hosted-engine/hosted-engine.conf';

/** hosted-engine.conf (key=value lines), as the agent, the broker, the CLI and vdsmd read it. */
export interface HeConf {
  hostId: number;
  vmId: string;
  /** The engine VM's libvirt domain XML (upstream extracts a vm.conf from the OVF store). */
  vmXml: string;
  /** The whiteboard file on shared storage. */
  metadata: string;
  /** The lockspace file on shared storage (sanlock), or the lease file (file lock). */
  lockspace: string;
  /** sanlock (production: libvirt takes the engine VM's lease for qemu) or file (labs and tests without sanlock). */
  lock: 'sanlock' | 'file';
  sanlock: { name: string; ioTimeout: number };
  gateway: string;
  networkTest: NetworkTest;
  tcpPort?: number;
  bridge: string;
  healthUrl: string;
  vdsm: { host: string; port: number; ssl: boolean; key: string; cert: string; ca: string };
  brokerSocket: string;
  stateDir: string;
  /** Monitor period, seconds. */
  monitorInterval: number;
  /** File lock: a lease not renewed for this long is free (sanlock's dead-host time with io_timeout 10 is 140 s). */
  leaseTimeout: number;
  /** Graceful shutdown delay given to VM.shutdown (upstream --vm-shutdown: 120 s). */
  shutdownDelay: number;
  engineMemMiB: number;
  /** The broker's /metrics and /health over HTTP (docs/metrics.md); absent: off, the default. */
  metricsListen?: { host: string; port: number };
  ha: HaConfig;
}

export class ConfError extends Error {
  override name = 'ConfError';
}

/** key=value lines; `#` starts a comment; later keys win. */
export function parseKeyValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s*#.*/, '').trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new ConfError(`not a key=value line: "${line}"`);
    out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return out;
}

export function readConf(path = DEFAULT_CONF_FILE): HeConf {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return confFrom(parseKeyValues(text), path);
}

const TIMING_KEYS: Record<string, keyof Omit<HaConfig, 'score'>> = {
  loop_delay: 'loopDelay',
  host_alive_timeout: 'hostAliveTimeout',
  stats_history: 'statsHistory',
  engine_starting_timeout: 'engineStartingTimeout',
  engine_bad_health_timeout: 'engineBadHealthTimeout',
  engine_stop_timeout: 'engineStopTimeout',
  engine_maybe_away_timeout: 'engineMaybeAwayTimeout',
  vm_unexpected_shutdown_timeout: 'vmUnexpectedShutdownTimeout',
  retry_expiration: 'retryExpiration',
  score_lead_hold: 'leadHold',
};

export function confFrom(kv: Map<string, string>, source = 'hosted-engine.conf'): HeConf {
  const get = (key: string, fallback?: string): string => {
    const v = kv.get(key) ?? fallback;
    if (v === undefined || v === '') throw new ConfError(`${source}: ${key} is missing`);
    return v;
  };
  const num = (key: string, fallback: number, min = 0): number => {
    const v = kv.get(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new ConfError(`${source}: ${key} must be a number ≥ ${min}, not "${v}"`);
    return n;
  };
  const hostId = num('host_id', NaN, 1);
  if (!Number.isInteger(hostId) || hostId > 2000)
    throw new ConfError(`${source}: host_id must be a whole number from 1 to 2000`);
  const networkTest = get('network_test', 'ping');
  if (!['ping', 'dns', 'tcp', 'none'].includes(networkTest))
    throw new ConfError(`${source}: network_test must be ping, dns, tcp or none, not "${networkTest}"`);
  const ha: HaConfig = { ...DEFAULT_CONFIG, score: { ...DEFAULT_CONFIG.score } };
  for (const [key, field] of Object.entries(TIMING_KEYS)) ha[field] = num(key, DEFAULT_CONFIG[field], 0);
  const fqdn = kv.get('fqdn');
  const lock = get('lock', 'sanlock');
  if (lock !== 'sanlock' && lock !== 'file')
    throw new ConfError(`${source}: lock must be sanlock or file, not "${lock}"`);
  return {
    hostId,
    vmId: get('vmid'),
    vmXml: get('vm_xml'),
    metadata: get('metadata'),
    lockspace: get('lockspace'),
    lock,
    sanlock: { name: get('sanlock_lockspace', 'hosted-engine'), ioTimeout: num('sanlock_io_timeout', 10, 1) },
    gateway: get('gateway', '127.0.0.1'),
    networkTest: networkTest as NetworkTest,
    tcpPort: kv.has('tcp_t_port') ? num('tcp_t_port', 0, 1) : undefined,
    bridge: get('bridge', 'ovirtmgmt'),
    healthUrl: get('health_url', fqdn ? `http://${fqdn}/ovirt-engine/services/health` : undefined),
    vdsm: {
      host: get('vdsm_host', 'localhost'),
      port: num('vdsm_port', 54321, 1),
      ssl: get('vdsm_ssl', 'true') === 'true',
      key: get('vdsm_key', '/etc/pki/vdsm/keys/vdsmkey.pem'),
      cert: get('vdsm_cert', '/etc/pki/vdsm/certs/vdsmcert.pem'),
      ca: get('vdsm_ca', '/etc/pki/vdsm/certs/cacert.pem'),
    },
    brokerSocket: get('broker_socket', '/run/vdsm-ts/hosted-engine/broker.socket'),
    stateDir: get('state_dir', '/var/lib/vdsm-ts/hosted-engine'),
    monitorInterval: num('monitor_interval', 10, 0.1),
    leaseTimeout: num('lease_timeout', 140, 1),
    shutdownDelay: num('shutdown_delay', 120, 0),
    engineMemMiB: num('engine_memory_mib', 4096, 1),
    metricsListen: listenAddress(kv.get('metrics_listen'), `${source}: metrics_listen`),
    ha,
  };
}

/** `host:port` (`[v6]:port`); empty or `off`: no listener. Port 0 takes a free one (tests). */
function listenAddress(value: string | undefined, what: string): { host: string; port: number } | undefined {
  if (value === undefined || value === '' || value === 'off') return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new ConfError(`${what} must be host:port ([address]:port for IPv6) or off, not "${value}"`);
  return { host: m[1] ?? m[2]!, port };
}
