/**
 * What the bed's own peers say happened, independent of the coordinator: the JSON-RPC calls each vdsmd served (its
 * one "rpc" log line per request) and what a set of VMs looks like in the sampler. No vitest here.
 */
import type { Bed, BedVm } from './bed.js';
import { runsOn } from './sampler.js';

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

/**
 * The longest gap a fault window may show between two samples: the sampler starts one every 500 ms and bounds each
 * host at 1.5 s, all hosts at once, so one ends within about 1.5 s and the next starts at once; 1 s more for a busy
 * machine. A longer gap is a window nobody watched, and fails the scenario.
 */
export const MAX_SAMPLE_GAP_MS = 3000;

/** When the bed last switched `host`'s power off at or after `after` (its history), or undefined. */
export function poweredOffAt(bed: Bed, host: string, after: number): number | undefined {
  const times = bed
    .host(host)
    .history.filter((l) => / power off:/.test(l))
    .map((l) => Date.parse(l.split(' ')[0]!))
    .filter((t) => t >= after);
  return times.at(-1);
}

/**
 * A fault window judged fail closed, from the sampler alone: the longest gap between two samples, the samples per
 * unknown host, and every sample in which a VM of `vms` runs on one host while another host could not be asked and
 * had not been switched off by then: that host may run it too, so the sample is unproven (counted, never read as
 * "not there"). A host whose guest processes were read is not blind: what runs there is known (a VM seen on it and
 * elsewhere is a double, which fails on its own). Pass the VMs a blind host may run (the faulted host's own).
 */
export function windowSafety(
  bed: Bed,
  vms: BedVm[],
  from: number,
  to = Date.now(),
): { samples: number; maxGapMs: number; unknown: Record<string, number>; unproven: string[] } {
  const samples = bed.sampler.samples.filter((s) => s.at >= from && s.at <= to);
  let maxGapMs = samples.length ? Math.max(samples[0]!.at - from, to - samples.at(-1)!.at) : to - from;
  for (let i = 1; i < samples.length; i++) maxGapMs = Math.max(maxGapMs, samples[i]!.at - samples[i - 1]!.at);
  const offAt = new Map(bed.hosts.map((h) => [h.name, poweredOffAt(bed, h.name, from) ?? Infinity]));
  const unproven: string[] = [];
  for (const s of samples) {
    const blind = Object.entries(s.hosts)
      .filter(([h, x]) => x.unknown && x.qemu === undefined && offAt.get(h)! > s.at)
      .map(([h]) => h);
    for (const v of blind.length ? vms : []) {
      const on = Object.entries(s.hosts).filter(([, x]) => runsOn(x, v.id));
      if (on.length)
        unproven.push(
          `${v.name} on ${on.map(([h]) => h).join('+')} while ${blind.join('+')} unknown, at ${new Date(s.at).toISOString()}`,
        );
    }
  }
  return { samples: samples.length, maxGapMs, unknown: bed.sampler.unknownCounts(from), unproven };
}
