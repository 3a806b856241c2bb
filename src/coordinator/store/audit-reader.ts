/**
 * Reading the audit trail from any replica: a page of entries (the latest ones, or those after an id) and a follow
 * that delivers each new entry once, in order, reading the gap again when etcd compacted what the watch missed.
 */
import type { EtcdClient, KeyValue } from '../etcd/client.js';
import { watchPrefix } from '../etcd/watch.js';
import { decode, type StoreLog } from './decode.js';
import { AUDIT_ID, type StoreKeys } from './keys.js';
import { type AuditRecord, auditRecordSchema } from './schemas.js';

export interface AuditEntry extends AuditRecord {
  /** `<epoch>-<seq>`, zero-padded: ids sort in the order the entries were written. */
  id: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** The store's revision the page was read at: follow from `revision + 1` to miss nothing and repeat nothing. */
  revision: number;
}

export const DEFAULT_EVENTS_LIMIT = 100;
export const MAX_EVENTS_LIMIT = 10_000;

function entryOf(keys: StoreKeys, kv: KeyValue, log: StoreLog): AuditEntry | undefined {
  const id = keys.idOf('audit', kv.key);
  if (id === undefined || !AUDIT_ID.test(id)) {
    log.warn({ key: kv.key }, 'store: an audit key is not of the form <epoch>-<seq>; skipped');
    return undefined;
  }
  const rec = decode(auditRecordSchema, kv, log);
  return rec && { id, ...rec };
}

/** The first key after every audit key (`…/audit/` with its last `/` raised to `0`). */
const sectionEnd = (section: string) => `${section.slice(0, -1)}0`;

/**
 * Oldest first: the `limit` entries after `since` (an entry id), or without `since` the latest `limit` entries.
 */
export async function readAudit(
  etcd: Pick<EtcdClient, 'range'>,
  keys: StoreKeys,
  log: StoreLog,
  options: { since?: string; limit?: number } = {},
): Promise<AuditPage> {
  const limit = options.limit ?? DEFAULT_EVENTS_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENTS_LIMIT)
    throw new RangeError(`the events limit must be a whole number from 1 to ${MAX_EVENTS_LIMIT}`);
  const section = keys.section('audit');
  let kvs: KeyValue[];
  let revision: number;
  if (options.since !== undefined) {
    if (!AUDIT_ID.test(options.since)) throw new RangeError('since must be an event id (<epoch>-<seq>)');
    const r = await etcd.range({ key: `${section}${options.since}\0`, end: sectionEnd(section), limit });
    ({ kvs, revision } = r);
  } else {
    const r = await etcd.range({ key: section, prefix: true, descending: true, limit });
    kvs = r.kvs.reverse();
    revision = r.revision;
  }
  const entries = kvs.flatMap((kv) => entryOf(keys, kv, log) ?? []);
  return { entries, revision };
}

export interface FollowOptions {
  signal: AbortSignal;
  /** Deliver entries written from this revision on (AuditPage.revision + 1); default: from now. */
  fromRevision?: number;
  /** Deliver only entries after this id (the last one the caller has). */
  after?: string;
  onEntry: (entry: AuditEntry) => void;
}

/** Runs until `signal` fires. Entries are delivered once each, in id order; deletions (retention) are not news. */
export async function followAudit(
  etcd: Pick<EtcdClient, 'stream' | 'range'>,
  keys: StoreKeys,
  log: StoreLog,
  options: FollowOptions,
): Promise<void> {
  let last = options.after ?? '';
  const deliver = (entry: AuditEntry | undefined) => {
    if (!entry || entry.id <= last) return;
    last = entry.id;
    options.onEntry(entry);
  };
  // While the gap after a compaction is read again, newer entries wait here so that they come after it.
  let held: (AuditEntry | undefined)[] | null = null;
  let catchingUp: Promise<void> = Promise.resolve();
  const catchUp = async () => {
    try {
      for (;;) {
        const page = await readAudit(etcd, keys, log, last ? { since: last, limit: 1000 } : { limit: 1000 });
        page.entries.forEach(deliver);
        if (page.entries.length < 1000) break;
      }
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'store: audit catch-up failed');
    }
    const waiting = held ?? [];
    held = null;
    waiting.forEach(deliver);
  };
  await watchPrefix(etcd, {
    prefix: keys.section('audit'),
    ...(options.fromRevision !== undefined ? { startRevision: options.fromRevision } : {}),
    signal: options.signal,
    onEvents: (events) => {
      for (const e of events) {
        if (e.type !== 'put') continue;
        const entry = entryOf(keys, e.kv, log);
        if (held) held.push(entry);
        else deliver(entry);
      }
    },
    onCompacted: () => {
      // What the watch can no longer replay is still in the trail (unless retention took it): read it after `last`.
      if (held) return;
      held = [];
      catchingUp = catchUp();
    },
  });
  await catchingUp;
}
