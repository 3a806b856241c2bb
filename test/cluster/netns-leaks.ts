/**
 * Leak bookkeeping for test/cluster/netns.ts.
 *
 * Every test bed keeps a JSON record in $TMPDIR/vdsm-ts-netns/<ownerPid>-<tag>.json naming its
 * namespaces and the subnet of its root-namespace blackhole route (the route is invisible in the
 * namespace names, so a dead owner's route can only be found through the record). Whoever reaps a
 * record first renames it to `<name>.reap-<reaperPid>` (atomic), so two test processes starting at
 * once never both act on it - otherwise one could delete a blackhole route the other has just
 * re-added for the same subnet.
 */
import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deadOwners, type OwnerRecord } from '../support/dead-owners.js';
import { alive, signal, waitGone } from '../support/proc-pids.js';
import { ipQuiet, ipSync, listNamespaces, parsePids, execBounded, IP } from './netns-ip.js';

export interface BedRecord extends OwnerRecord {
  tag: string;
  subnet: string;
  /** The other subnets of a bed of more than one network (each blackholed like `subnet`). */
  moreSubnets?: string[];
  namespaces: string[];
}

/** `vts<pid>-<4 hex>-` : the prefix of every namespace of one test bed */
export const NS_NAME = /^vts(\d+)-([0-9a-f]{4})-/;
const MAX_ENTRIES = 200;

export function recordDir(): string {
  return join(tmpdir(), 'vdsm-ts-netns');
}

export function recordPath(bed: Pick<BedRecord, 'ownerPid' | 'tag'>): string {
  return join(recordDir(), `${bed.ownerPid}-${bed.tag}.json`);
}

export function writeRecord(bed: BedRecord): void {
  mkdirSync(recordDir(), { recursive: true, mode: 0o755 });
  writeFileSync(recordPath(bed), JSON.stringify(bed));
}

export function removeRecord(bed: Pick<BedRecord, 'ownerPid' | 'tag'>): void {
  try {
    unlinkSync(recordPath(bed));
  } catch {
    /* gone */
  }
}

/** SIGKILL whatever still runs inside `ns` (only ever called for namespaces of our test beds). */
export async function killInside(ns: string): Promise<number[]> {
  const pids = parsePids((await execBounded(IP, ['netns', 'pids', ns], { timeoutMs: 5000 })).stdout).filter(
    (p) => p !== process.pid,
  );
  for (const p of pids) signal(p, 'SIGKILL');
  if (pids.length) await waitGone(pids, 2000);
  return pids;
}

/** Remove namespaces (after killing what runs in them) and the blackhole route. Never throws. */
export async function destroyBed(
  namespaces: string[],
  subnet: string | undefined,
  moreSubnets: string[] = [],
): Promise<void> {
  for (const ns of namespaces) {
    await killInside(ns).catch(() => undefined);
    await ipQuiet(['netns', 'del', ns]);
  }
  // only after the namespaces are gone: until then the route keeps root-ns packets off the wire
  for (const s of [subnet, ...moreSubnets]) if (s) await ipQuiet(['route', 'del', 'blackhole', s]);
}

/** Synchronous twin of destroyBed for the process 'exit' handler (best effort). */
export function destroyBedSync(namespaces: string[], subnet: string | undefined, moreSubnets: string[] = []): void {
  for (const ns of namespaces) {
    for (const p of parsePids(ipSync(['netns', 'pids', ns]))) if (p !== process.pid) signal(p, 'SIGKILL');
    ipSync(['netns', 'del', ns]);
  }
  for (const s of [subnet, ...moreSubnets]) if (s) ipSync(['route', 'del', 'blackhole', s]);
}

/** Rename `name` to a claim of ours; the path of the claim, or undefined if someone else was faster. */
function claim(dir: string, name: string): string | undefined {
  const base = name.replace(/\.reap-\d+$/, '');
  const claimed = join(dir, `${base}.reap-${process.pid}`);
  try {
    renameSync(join(dir, name), claimed);
    return claimed;
  } catch {
    return undefined;
  }
}

/** A record, or a claim of one whose reaper died before it finished. */
function unclaimedRecord(name: string): string | undefined {
  const reaper = /\.reap-(\d+)$/.exec(name);
  if (reaper) return Number(reaper[1]) === process.pid || alive(Number(reaper[1])) ? undefined : name;
  return name.endsWith('.json') ? name : undefined;
}

/** Reap test beds (records, then bare `vts<pid>-` namespaces) whose owner process is gone. */
export async function reapStaleBeds(): Promise<void> {
  const dir = recordDir();
  for (const { entry: name, record: rec } of deadOwners<BedRecord>(dir, unclaimedRecord, MAX_ENTRIES)) {
    if (!Array.isArray(rec.namespaces)) continue;
    const claimed = claim(dir, name);
    if (!claimed) continue;
    await destroyBed(rec.namespaces, rec.subnet, Array.isArray(rec.moreSubnets) ? rec.moreSubnets : []);
    try {
      unlinkSync(claimed);
    } catch {
      /* gone */
    }
  }
  // namespaces created before their record was written, or whose record was lost
  const orphans = (await listNamespaces()).filter((ns) => {
    const m = NS_NAME.exec(ns);
    return m && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  await destroyBed(orphans.slice(0, MAX_ENTRIES), undefined);
}
