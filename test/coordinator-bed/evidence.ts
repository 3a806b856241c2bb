/**
 * What the bed's own peers say happened, independent of the coordinator: the JSON-RPC calls each vdsmd served (its
 * one "rpc" log line per request) and what a set of VMs looks like in the sampler. No vitest here.
 */
import type { Bed, BedVm } from './bed.js';

/** How many `method` requests each host's vdsmd served since `after` (wall-clock ms), whatever their outcome. */
export function rpcCalls(bed: Bed, method: string, after: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of bed.hosts) {
    let n = 0;
    for (const line of h.fullLog().split('\n')) {
      if (!line.includes('"msg":"rpc"') || !line.includes(`"method":"${method}"`)) continue;
      try {
        const l = JSON.parse(line) as { time?: number };
        if ((l.time ?? 0) >= after) n++;
      } catch {
        /* a line cut by a kill */
      }
    }
    out[h.name] = n;
  }
  return out;
}

export const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Where each VM was listed (not Down) since `after`, by VM name. */
export function whereSeen(bed: Bed, vms: BedVm[], after: number): Record<string, string[]> {
  return Object.fromEntries(vms.map((v) => [v.name, bed.sampler.hostsOf(v.id, after)]));
}

/** Where each VM is listed Up in the latest sample, by VM name ('?' when a host is unknown and it is nowhere). */
export function whereUpNow(bed: Bed, vms: BedVm[]): Record<string, string[]> {
  const s = bed.sampler.samples.at(-1);
  return Object.fromEntries(
    vms.map((v) => [
      v.name,
      s
        ? Object.entries(s.hosts)
            .filter(([, h]) => h.up?.includes(v.id))
            .map(([name]) => name)
        : [],
    ]),
  );
}

/** A line per coordinator log line matching `re` since `after` (for the scenario's printout). */
export function logLinesMatching(bed: Bed, re: RegExp, after: number): string[] {
  const out: string[] = [];
  for (const r of bed.replicas)
    for (const l of r.logLines())
      if (typeof l.time === 'number' && l.time >= after && re.test(JSON.stringify(l)))
        out.push(`${r.name}: ${JSON.stringify(l)}`);
  return out;
}
