/**
 * The store half of the coordinator's CoordinatorEnv on etcd: leadership as the core sees it, the snapshot a new
 * leader loads, and every write as one etcd transaction guarded by `create_revision(leader key) == epoch`
 * (Leadership.guarded). A write under any other epoch, or one that etcd refuses or does not answer, returns false:
 * the driver then drops its state and reloads it under its next leadership (README.md, "Writes").
 */
import type { CoordinatorEnv, CoordinatorLog } from '../core/env.js';
import type { StoreSnapshot } from '../core/step.js';
import type { AuditEvent, Command, FenceIntent, HostSpec, HostStateRecord, VmRecord } from '../core/types.js';
import type { EtcdClient, KeyValue, TxnOp, TxnResult } from '../etcd/client.js';
import { EtcdError, NotLeaderError } from '../etcd/errors.js';
import type { GuardedOptions, Leadership } from '../etcd/leadership.js';
import { hostRecord, hostSpecOf, NAME, VM_ID } from '../inventory/records.js';
import { AuditWriter, DEFAULT_AUDIT_RETENTION } from './audit-writer.js';
import { takeCommands } from './command-queue.js';
import { decode, encode } from './decode.js';
import { type Section, StoreKeys } from './keys.js';
import { fenceIntentSchema, hostStateSchema, vmRecordSchema } from './schemas.js';

/** The calls of CoordinatorEnv that the store answers. */
export type CoordinatorStore = Pick<
  CoordinatorEnv,
  'leadership' | 'load' | 'writeFence' | 'writeVm' | 'writeHost' | 'removeVm' | 'confirmEpoch' | 'audit' | 'commands'
>;

export interface EtcdStoreOptions {
  etcd: Pick<EtcdClient, 'range' | 'txn'>;
  /** A running Leadership campaigning on `keys.election`. */
  leadership: Pick<Leadership, 'current' | 'guarded'>;
  keys?: StoreKeys;
  /** The Env's clock (monotonic seconds): `leadership().since` is on it. */
  now: () => number;
  log: CoordinatorLog;
  /** How many audit entries are kept (the oldest go first); default 10,000. */
  auditRetention?: number;
  /** Hears each write refused because `epoch` no longer leads (not one that etcd failed to answer). */
  onRefused?: (epoch: number, what: string) => void;
}

export class EtcdStore implements CoordinatorStore {
  readonly keys: StoreKeys;
  private readonly etcd: EtcdStoreOptions['etcd'];
  private readonly lead: EtcdStoreOptions['leadership'];
  private readonly log: CoordinatorLog;
  private readonly now: () => number;
  private readonly auditWriter: AuditWriter;
  private readonly onRefused: (epoch: number, what: string) => void;
  private term: { epoch: number; since: number } | undefined;

  constructor(options: EtcdStoreOptions) {
    this.etcd = options.etcd;
    this.lead = options.leadership;
    this.keys = options.keys ?? new StoreKeys();
    this.log = options.log;
    this.now = options.now;
    this.onRefused = options.onRefused ?? (() => {});
    this.auditWriter = new AuditWriter(
      this.etcd,
      this.keys,
      (epoch, ops, what, opts) => this.guarded(epoch, ops, what, opts),
      options.auditRetention ?? DEFAULT_AUDIT_RETENTION,
    );
  }

  /**
   * The current term while its deadline has not passed. `since` is when this store first saw the term (at most one
   * driver tick after it began): later than the truth, so the core's new-leader wait is never shorter than meant.
   */
  async leadership(): Promise<{ epoch: number; since: number } | null> {
    const term = this.lead.current();
    if (!term) return null;
    if (this.term?.epoch !== term.epoch) this.term = { epoch: term.epoch, since: this.now() };
    return { ...this.term };
  }

  /** One read at one revision; every value is checked, and a bad one is reported and left out. */
  async load(): Promise<StoreSnapshot> {
    const sections: Section[] = ['hosts', 'host-state', 'fence', 'vms'];
    const r = await this.etcd.txn({
      compare: [],
      success: sections.map((s) => ({ op: 'range', key: this.keys.section(s), prefix: true })),
    });
    const kvs = (i: number): KeyValue[] => {
      const resp = r.responses[i];
      return resp?.op === 'range' ? resp.kvs : [];
    };
    const states = new Map<string, HostStateRecord>();
    for (const kv of kvs(1)) {
      const id = this.validId('host-state', kv, NAME);
      const state = id && decode(hostStateSchema, kv, this.log);
      if (id && state) states.set(id, state);
    }
    const hosts: HostSpec[] = [];
    for (const kv of kvs(0)) {
      const id = this.validId('hosts', kv, NAME);
      const rec = id && decode(hostRecord, kv, this.log);
      if (!id || !rec) continue;
      if (rec.id !== id) {
        this.log.warn({ key: kv.key }, 'store: a host record names another id than its key; skipped');
        continue;
      }
      hosts.push({ ...hostSpecOf(rec), ...states.get(id) });
    }
    const intents: Record<string, FenceIntent> = {};
    for (const kv of kvs(2)) {
      const id = this.validId('fence', kv, NAME);
      const intent = id && decode(fenceIntentSchema, kv, this.log);
      if (id && intent) intents[id] = intent;
    }
    const vms: VmRecord[] = [];
    for (const kv of kvs(3)) {
      const id = this.validId('vms', kv, VM_ID);
      const vm = id && decode(vmRecordSchema, kv, this.log);
      if (!id || !vm) continue;
      if (vm.id !== id) this.log.warn({ key: kv.key }, 'store: a VM record names another id than its key; skipped');
      else vms.push(vm);
    }
    return { hosts, intents, vms };
  }

  async writeFence(epoch: number, host: string, intent: FenceIntent | null): Promise<boolean> {
    const key = this.idKey('fence', host, NAME);
    const op: TxnOp = intent
      ? { op: 'put', key, value: encode(fenceIntentSchema, intent, 'a fence intent') }
      : { op: 'delete', key };
    return (await this.guarded(epoch, [op], 'write fence intent')) !== null;
  }

  async writeVm(epoch: number, vm: VmRecord): Promise<boolean> {
    const op: TxnOp = {
      op: 'put',
      key: this.idKey('vms', vm.id, VM_ID),
      value: encode(vmRecordSchema, vm, 'a VM record'),
    };
    return (await this.guarded(epoch, [op], 'write VM record')) !== null;
  }

  async writeHost(epoch: number, host: string, state: HostStateRecord | null): Promise<boolean> {
    const stateKey = this.idKey('host-state', host, NAME);
    const ops: TxnOp[] = state
      ? [{ op: 'put', key: stateKey, value: encode(hostStateSchema, state, 'a host state') }]
      : [
          { op: 'delete', key: stateKey },
          { op: 'delete', key: this.keys.key('fence', host) },
          { op: 'delete', key: this.keys.key('hosts', host) },
        ];
    return (await this.guarded(epoch, ops, state ? 'write host state' : 'remove host')) !== null;
  }

  async removeVm(epoch: number, vm: string): Promise<boolean> {
    const ops: TxnOp[] = [
      { op: 'delete', key: this.idKey('vms', vm, VM_ID) },
      { op: 'delete', key: this.keys.key('vm-defs', vm) },
    ];
    return (await this.guarded(epoch, ops, 'remove VM')) !== null;
  }

  async confirmEpoch(epoch: number): Promise<boolean> {
    return (await this.guarded(epoch, [], 'confirm epoch')) !== null;
  }

  /** Under the guard; an event that cannot be stored is logged instead (with its text: audit texts hold no secret). */
  async audit(epoch: number, event: AuditEvent): Promise<void> {
    let stored = false;
    try {
      stored = await this.auditWriter.append(epoch, event);
    } catch (err) {
      this.log.warn({ epoch, err: reason(err) }, 'store: the audit trail could not be written');
    }
    if (!stored) this.log.warn({ epoch, event }, 'store: audit event not stored');
  }

  /** The leader's take of the queued commands (README.md, "Commands"); [] when not leading or etcd fails. */
  async commands(): Promise<Command[]> {
    const term = this.lead.current();
    if (!term) return [];
    try {
      return await takeCommands(
        this.etcd,
        this.keys,
        (e, ops, what) => this.guarded(e, ops, what),
        term.epoch,
        this.log,
      );
    } catch (err) {
      if (!(err instanceof EtcdError)) throw err;
      this.log.warn({ err: err.message }, 'store: the command queue could not be read');
      return [];
    }
  }

  /**
   * `ops` in one transaction under the guard of `epoch`: null when this replica's term is not `epoch`, when etcd
   * found the guard false, or when the call failed (then `outcomeUnknown` says whether etcd may still apply it).
   */
  private async guarded(
    epoch: number,
    ops: TxnOp[],
    what: string,
    options?: GuardedOptions,
  ): Promise<TxnResult | null> {
    const term = this.lead.current();
    if (!term || term.epoch !== epoch) {
      this.log.warn({ epoch, current: term?.epoch ?? null, what }, 'store: not written: the epoch is not ours now');
      this.onRefused(epoch, what);
      return null;
    }
    try {
      return await this.lead.guarded(ops, options);
    } catch (err) {
      if (err instanceof NotLeaderError) {
        this.log.warn({ epoch, what, outcomeUnknown: err.outcomeUnknown, err: err.message }, 'store: not leader');
        this.onRefused(
          epoch,
          err.outcomeUnknown ? `${what} (cut off in flight: applied only if the term still held)` : what,
        );
        return null;
      }
      if (err instanceof EtcdError) {
        const outcomeUnknown = err.details.outcomeUnknown === true;
        this.log.warn({ epoch, what, outcomeUnknown, err: err.message }, 'store: guarded write failed');
        return null;
      }
      throw err;
    }
  }

  /** The id of `kv` in section `s`, when it is a well-formed one (a key written by hand may not be). */
  private validId(s: Section, kv: KeyValue, form: RegExp): string | undefined {
    const id = this.keys.idOf(s, kv.key);
    if (id !== undefined && form.test(id)) return id;
    this.log.warn({ key: kv.key }, 'store: a key is not of the form its section takes; skipped');
    return undefined;
  }

  private idKey(s: Section, id: string, form: RegExp): string {
    if (!form.test(id)) throw new Error(`store: "${s}" keys take ids of the form ${String(form)}`);
    return this.keys.key(s, id);
  }
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));
