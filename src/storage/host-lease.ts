import { runSanlock, type SanlockRun } from './sanlock-run.js';

/**
 * A host's lease state in one lockspace, with vdsm's names (lib/vdsm/storage/clusterlock.py):
 * - `live`: the host renewed its host-id lease recently (within 8 × io_timeout: 80 s with the default 10 s);
 * - `unknown`: it holds a lease but this host has not yet seen it renewed (just after joining);
 * - `fail`: no renewal for 8 × io_timeout; `dead`: 60 s more than that; `free`: nobody holds that host id;
 * - `unavailable`: no answer, because this host is not a settled member of that lockspace or sanlock failed.
 */
export type HostLeaseStatus = 'live' | 'unknown' | 'fail' | 'dead' | 'free' | 'unavailable';

export interface HostLeaseReport {
  /** Each asked lockspace with the asked host id's state in it. */
  domains: Record<string, HostLeaseStatus>;
  /** Why sanlock could not be asked at all (every lockspace then reads `unavailable`). */
  error?: string;
}

/** What `sanlock client gets -h 1` says about one lockspace this daemon knows. */
type Lockspace = { hosts: Map<number, HostLeaseStatus> } | { unavailable: string };

const STATE: Record<string, HostLeaseStatus> = {
  LIVE: 'live',
  UNKNOWN: 'unknown',
  FAIL: 'fail',
  DEAD: 'dead',
  FREE: 'free',
};

/**
 * Parses `sanlock client gets -h 1`: per lockspace an `s <name>:<host id>:<path>:<offset> [ADD] [REM]` line, then
 * `h <host id> gen <n> timestamp <t> <LIVE|UNKNOWN|FAIL|DEAD|FREE>` for every host id with a lease, or
 * `hosts not ready` / `hosts error <errno>` when the daemon cannot tell. The states come from sanlock_get_hosts,
 * the call vdsm's clusterlock makes through the Python binding, so they mean exactly what they mean to vdsm.
 */
export function parseGets(out: string): Map<string, Lockspace> {
  const spaces = new Map<string, Lockspace>();
  let current: string | undefined;
  for (const raw of out.split('\n')) {
    const line = raw.trim();
    const s = /^s ([^:]+):\d+:.*:\d+((?:\s+(?:ADD|REM))*)$/.exec(line);
    if (s) {
      current = s[1]!;
      const flags = s[2]!.trim();
      // Being joined (ADD) or left (REM): not a settled member, so its view of other hosts is no answer.
      spaces.set(current, flags ? { unavailable: `lockspace flagged ${flags}` } : { hosts: new Map() });
      continue;
    }
    if (current === undefined) continue;
    const space = spaces.get(current)!;
    const h = /^h (\d+) gen \d+ timestamp \d+ (\w+)$/.exec(line);
    if (h && 'hosts' in space) space.hosts.set(Number(h[1]), STATE[h[2]!] ?? 'unavailable');
    else if (/^hosts (not ready|error)/.test(line)) spaces.set(current, { unavailable: line });
  }
  return spaces;
}

/**
 * The state of each given host id in each given lockspace (storage domain UUID in vdsm, where a domain's
 * lockspace is named after it), as the local sanlock daemon sees it: vdsm's `getHostLeaseStatus`, on the
 * sanlock CLI. One `gets -h 1` answers for every lockspace at once. A lockspace this host has not joined reads
 * `unavailable` (vdsm: no monitor for that domain), and so does every lockspace when sanlock fails.
 */
export async function hostLeaseStatus(
  domains: Readonly<Record<string, number>>,
  run: SanlockRun = runSanlock,
): Promise<HostLeaseReport> {
  let spaces: Map<string, Lockspace>;
  try {
    spaces = parseGets(await run(['client', 'gets', '-h', '1'], 10_000));
  } catch (e) {
    return {
      domains: Object.fromEntries(Object.keys(domains).map((sd) => [sd, 'unavailable' as const])),
      error: (e as Error).message,
    };
  }
  const status = (sd: string, hostId: number): HostLeaseStatus => {
    const space = spaces.get(sd);
    // sanlock lists only host ids that hold a lease; an id it leaves out is free.
    return space === undefined || 'unavailable' in space ? 'unavailable' : (space.hosts.get(hostId) ?? 'free');
  };
  return { domains: Object.fromEntries(Object.entries(domains).map(([sd, hostId]) => [sd, status(sd, hostId)])) };
}
