import type { BrokerStatus } from './broker/schemas.js';
import type { HostBlock } from './types.js';
import { encodeHostBlock, engineStatusJson } from './whiteboard.js';

const GLOBAL_BANNER = '\n\n!! Cluster is in GLOBAL MAINTENANCE mode !!\n';
const py = (b: boolean) => (b ? 'True' : 'False');

/** The CRC token this block carries on storage (recomputed: decoding has verified it already). */
function crcOf(block: HostBlock): string {
  return encodeHostBlock(block).subarray(0, 512).toString('latin1').replace(/\0+$/, '').split('|')[9] ?? '';
}

/** One host's entry in upstream's key order (vm_status.py), as `--vm-status --json` prints it. */
function entry(block: HostBlock, extra: string, live: boolean) {
  return {
    'host-id': block.hostId,
    'host-ts': block.hostTs,
    score: block.score,
    'engine-status': block.engineStatus,
    hostname: block.hostname,
    maintenance: block.maintenance,
    stopped: block.stopped,
    crc32: crcOf(block),
    conf_on_shared_storage: block.confOnSharedStorage,
    local_conf_timestamp: block.localConfTimestamp,
    extra,
    'live-data': live,
  };
}

const LABELS: Record<string, string> = {
  'host-id': 'Host ID',
  'host-ts': 'Host timestamp',
  score: 'Score',
  'engine-status': 'Engine status',
  hostname: 'Hostname',
  maintenance: 'Local maintenance',
  'live-data': 'Status up-to-date',
  extra: 'Extra metadata (valid at timestamp)',
};

const live = (s: BrokerStatus, id: number) => s.alive !== null && s.alive.includes(id);
const sorted = (s: BrokerStatus) => [...s.hosts].sort((a, b) => a.hostId - b.hostId);

/** `hosted-engine --vm-status --json`: host ids as keys, plus global_maintenance. */
export function vmStatusJson(s: BrokerStatus): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const b of sorted(s)) out[String(b.hostId)] = entry(b, s.extras[b.hostId] ?? '', live(s, b.hostId));
  out.global_maintenance = s.globalMaintenance;
  return out;
}

/** `hosted-engine --vm-status`: upstream's layout, labels padded to 35 columns, stale hosts' engine status hidden. */
export function vmStatusText(s: BrokerStatus): string {
  const lines: string[] = [];
  if (s.globalMaintenance) lines.push(GLOBAL_BANNER);
  for (const b of sorted(s)) {
    const e = entry(b, s.extras[b.hostId] ?? '', live(s, b.hostId));
    // Upstream prints "status up-to-date" after the raw keys and the extra block last.
    const order = [
      'host-id',
      'host-ts',
      'score',
      'engine-status',
      'hostname',
      'maintenance',
      'stopped',
      'crc32',
      'conf_on_shared_storage',
      'local_conf_timestamp',
      'live-data',
      'extra',
    ] as const;
    lines.push(`\n\n--== Host ${b.hostname} (id: ${b.hostId}) status ==--\n`);
    for (const key of order) {
      const label = (LABELS[key] ?? key).padEnd(35);
      const value = e[key];
      if (key === 'extra') {
        lines.push(`${label}:`);
        for (const l of String(value).split('\n').filter(Boolean)) lines.push(`\t${l}`);
      } else if (key === 'engine-status') {
        lines.push(`${label}: ${e['live-data'] ? engineStatusJson(b.engineStatus) : 'unknown stale-data'}`);
      } else {
        lines.push(`${label}: ${typeof value === 'boolean' ? py(value) : String(value)}`);
      }
    }
  }
  if (s.globalMaintenance) lines.push(GLOBAL_BANNER);
  return `${lines.join('\n')}\n`;
}
