/** What the client commands print for people (`--json` prints the API's answers instead). */
import type { z } from 'zod';
import type { event, haStats, hostView, status, vmView } from '../../coordinator/api/schemas.js';

type Host = z.output<typeof hostView>;
type Ha = z.output<typeof haStats>;

/**
 * The host's hosted-engine HA in the engine's words (its host "General" tab), checked in the engine's order: not
 * configured → nothing; agent not active → Not Active; then global maintenance, local maintenance, else the score.
 */
export function haLine(ha: Ha | null): string | null {
  if (ha === null || !ha.configured) return null;
  if (!ha.active) return 'Hosted Engine HA: Not Active';
  if (ha.globalMaintenance) return 'Hosted Engine HA: Global Maintenance Enabled';
  if (ha.localMaintenance) return 'Hosted Engine HA: Local Maintenance Enabled';
  return `Hosted Engine HA: Active (score ${ha.score})`;
}

/**
 * Maintenance puts the host's HA agent in local maintenance and activate takes it out; when the two disagree
 * (the HA call failed, or someone ran `hosted-engine --set-maintenance` on the host) the host is flagged.
 */
export function haOutOfSync(host: Host): boolean {
  return host.ha !== null && host.ha.configured && host.ha.localMaintenance !== host.maintenance;
}

function table(rows: string[][]): string {
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatHosts(hosts: readonly Host[]): string {
  if (hosts.length === 0) return 'no hosts';
  const rows = [['HOST', 'STATE', 'CLUSTER', 'ADDRESS', 'VMS', 'HOSTED ENGINE HA']];
  for (const h of hosts) {
    const line = haLine(h.ha) ?? '';
    const flag = haOutOfSync(h)
      ? `${line ? '  ' : ''}(HA maintenance out of sync: coordinator ${h.maintenance ? 'in' : 'not in'} maintenance, HA local maintenance ${h.ha?.localMaintenance ? 'on' : 'off'})`
      : '';
    const state = h.state ?? 'unknown';
    rows.push([
      h.id,
      h.maintenance && state !== 'Maintenance' ? `${state} (maintenance)` : state,
      h.cluster,
      `${h.address}:${h.port}`,
      String(h.vms),
      `${line}${flag}`,
    ]);
  }
  return table(rows);
}

/** `hosts --json`: the API's answer with the HA line and the flag added. */
export function hostsJson(hosts: readonly Host[]): unknown {
  return hosts.map((h) => ({ ...h, haLine: haLine(h.ha), haMaintenanceOutOfSync: haOutOfSync(h) }));
}

export function formatVms(vms: readonly z.output<typeof vmView>[]): string {
  if (vms.length === 0) return 'no VMs';
  return table([
    ['VM', 'NAME', 'STATE', 'HOST', 'HA', 'PRIORITY', 'MEMORY'],
    ...vms.map((v) => [
      v.id,
      v.name,
      v.state,
      v.owner ?? '-',
      v.ha ? 'yes' : 'no',
      String(v.priority),
      `${v.memMiB} MiB`,
    ]),
  ]);
}

const counts = (byState: Partial<Record<string, number>>): string => {
  const entries = Object.entries(byState).filter(([, n]) => (n ?? 0) > 0);
  const total = entries.reduce((sum, [, n]) => sum + (n ?? 0), 0);
  return entries.length ? `${total}: ${entries.map(([s, n]) => `${s} ${n}`).join(', ')}` : '0';
};

export function formatStatus(s: z.output<typeof status>): string {
  return table([
    ['replica', `${s.replica} (${s.role}${s.epoch === null ? '' : `, epoch ${s.epoch}`})`],
    ['leader', s.leader ?? 'none known'],
    ['etcd', s.etcd ? 'reachable' : 'NOT REACHABLE'],
    ['hosts', counts(s.hosts)],
    ['vms', counts(s.vms)],
    ['HA global maintenance', s.globalMaintenance === null ? 'no host runs HA' : s.globalMaintenance ? 'on' : 'off'],
  ]);
}

/** One event per line: seq (what --since takes), time, host, kind (guard), ALERT, text. */
export function formatEvent(e: z.output<typeof event>): string {
  const kind = e.guard ? `${e.kind}/${e.guard}` : e.kind;
  return `${e.seq} ${e.time} ${e.host ?? '-'} ${kind}${e.alert ? ' ALERT' : ''}: ${e.text}`;
}
