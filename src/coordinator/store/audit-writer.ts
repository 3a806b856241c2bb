/**
 * The leader's side of the audit trail: each event one key `audit/<epoch>-<seq>`, written under the leader guard,
 * and the oldest entries beyond the retention bound deleted in the same transaction (so the trail never holds more
 * than `max` entries after a write of ours, and never loses one it should keep).
 */
import type { AuditEvent } from '../core/types.js';
import type { EtcdClient, TxnOp, TxnResult } from '../etcd/client.js';
import type { GuardedOptions } from '../etcd/leadership.js';
import { encode } from './decode.js';
import { auditId, parseAuditId, type StoreKeys } from './keys.js';
import { auditRecordSchema } from './schemas.js';

/** Runs ops under the guard of `epoch`; null: nothing was (known to be) written. */
export type Guarded = (
  epoch: number,
  ops: TxnOp[],
  what: string,
  options?: GuardedOptions,
) => Promise<TxnResult | null>;

export const DEFAULT_AUDIT_RETENTION = 10_000;

/** At most this many old entries go in one transaction (etcd refuses more than 128 operations per transaction). */
const TRIM_BATCH = 100;

export class AuditWriter {
  /** The epoch `next` counts for; another epoch starts by reading what that epoch already wrote. */
  private epoch: number | undefined;
  private next = 0;
  /** Entries under `audit/` as of our last write (only the leader writes there). */
  private count: number | undefined;

  constructor(
    private readonly etcd: Pick<EtcdClient, 'range'>,
    private readonly keys: StoreKeys,
    private readonly guarded: Guarded,
    private readonly max: number = DEFAULT_AUDIT_RETENTION,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new Error('audit retention must be a whole number, at least 1');
  }

  /** Appends `event` as written by `epoch`; false when the guard failed (nothing written). */
  async append(epoch: number, event: AuditEvent): Promise<boolean> {
    const value = encode(auditRecordSchema, { epoch, time: new Date().toISOString(), event }, 'an audit event');
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.epoch !== epoch) await this.startEpoch(epoch);
      const count = this.count ?? (await this.countEntries());
      const old = count + 1 > this.max ? await this.oldest(Math.min(count + 1 - this.max, TRIM_BATCH)) : [];
      const key = this.keys.key('audit', auditId(epoch, this.next));
      const ops: TxnOp[] = [{ op: 'put', key, value }];
      if (old.length > 0) ops.push({ op: 'delete', key: old[0]!, end: `${old[old.length - 1]!}\0` });
      // The id must be new: a second writer of this epoch (a restarted store object) may have used it.
      const r = await this.guarded(epoch, ops, 'audit', { compare: [{ key, target: 'version', version: 0 }] });
      if (r === null) {
        this.count = undefined;
        return false;
      }
      if (r.succeeded) {
        const deleted = r.responses[1]?.op === 'delete' ? r.responses[1].deleted : 0;
        this.next += 1;
        this.count = count + 1 - deleted;
        return true;
      }
      this.epoch = undefined; // taken: read this epoch's last id again, once
    }
    throw new Error('store: no free audit id for this epoch (another writer holds the same epoch)');
  }

  private async startEpoch(epoch: number): Promise<void> {
    const own = await this.etcd.range({
      key: this.keys.key('audit', auditId(epoch, 0).slice(0, 17)),
      prefix: true,
      keysOnly: true,
      descending: true,
      limit: 1,
    });
    const last = own.kvs[0] && parseAuditId(this.keys.idOf('audit', own.kvs[0].key) ?? '');
    this.next = last ? last.seq + 1 : 0;
    this.epoch = epoch;
    this.count = undefined;
  }

  private async countEntries(): Promise<number> {
    return (await this.etcd.range({ key: this.keys.section('audit'), prefix: true, keysOnly: true, limit: 1 })).count;
  }

  private async oldest(n: number): Promise<string[]> {
    const r = await this.etcd.range({ key: this.keys.section('audit'), prefix: true, keysOnly: true, limit: n });
    return r.kvs.map((kv) => kv.key);
  }
}
