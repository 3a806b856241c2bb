/**
 * Finding what test processes that died left behind: a test that makes something outliving it (a daemon's scratch
 * directory, network namespaces) records its own pid next to it, and the next test to start cleans up after an
 * owner that is gone. No vitest here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from './proc-pids.js';

export interface OwnerRecord {
  ownerPid: number;
  /** The owner's start time (clock ticks), so that its pid, reused by another process, does not keep it alive. */
  ownerStart?: number;
}

/** The owner is another process, and it is gone. */
export function ownerGone(r: OwnerRecord): boolean {
  return r.ownerPid !== process.pid && !alive(r.ownerPid, r.ownerStart ?? undefined);
}

/**
 * The records of dead owners among the entries of `dir`: `recordFile` names an entry's record (a path under
 * `dir`), or nothing for entries that are not ours. At most `max` entries are read. A record that cannot be read
 * or parsed is passed over: its owner may be writing it right now.
 */
export function deadOwners<T extends OwnerRecord>(
  dir: string,
  recordFile: (entry: string) => string | undefined,
  max: number,
): { entry: string; record: T }[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const found: { entry: string; record: T }[] = [];
  for (const entry of entries.filter((e) => recordFile(e) !== undefined).slice(0, max)) {
    let record: T;
    try {
      record = JSON.parse(readFileSync(join(dir, recordFile(entry)!), 'utf8')) as T;
    } catch {
      continue;
    }
    if (Number.isInteger(record?.ownerPid) && ownerGone(record)) found.push({ entry, record });
  }
  return found;
}
