/**
 * The inventory as the CLI and the HTTP API use it, from any replica (no leadership needed): requests are checked,
 * then queued as operator commands for the leader's core, in one etcd transaction with whatever record goes with
 * them (a host's record, a VM's definition) and the condition that makes the request valid (no duplicate id, the
 * host or VM exists). The leader applies them in order; the audit trail says what became of each.
 */
import type { Command, FenceIntent, VmRecord } from '../core/types.js';
import type { Compare, EtcdClient, KeyValue, TxnOp } from '../etcd/client.js';
import { type AuditPage, type FollowOptions, followAudit, readAudit } from '../store/audit-reader.js';
import { enqueueOp } from '../store/command-queue.js';
import { decode, describeIssues, type StoreLog } from '../store/decode.js';
import { StoreKeys } from '../store/keys.js';
import { fenceIntentSchema, hostStateSchema, vmRecordSchema } from '../store/schemas.js';
import { summarizeDomain } from './domain-xml.js';
import { InventoryError } from './errors.js';
import {
  hostRecord,
  type HostRecord,
  hostSpecOf,
  NAME,
  VM_ID,
  vmDefinitionRecord,
  type VmDefinitionRecord,
} from './records.js';

export interface InventoryOptions {
  etcd: Pick<EtcdClient, 'range' | 'txn' | 'stream'>;
  keys?: StoreKeys;
  log: StoreLog;
}

/** A command that is in the queue: its key and the revision it was written at (the leader takes them in that order). */
export interface Queued {
  command: Command;
  key: string;
  revision: number;
}

export interface HostView {
  record: HostRecord;
  /** The leader's part: null until the leader has written it. */
  maintenance: boolean | null;
  intent: FenceIntent | null;
}

export interface VmView {
  id: string;
  /** From the definition; null when only the core's record is left. */
  name: string | null;
  definition: Omit<VmDefinitionRecord, 'xml' | 'id' | 'name'> | null;
  /** The core's record: null until the leader has taken the `vm-define` command. */
  record: VmRecord | null;
}

const exists = (key: string): Compare => ({ key, target: 'version', result: '>', version: 0 });
const absent = (key: string): Compare => ({ key, target: 'version', version: 0 });

export class Inventory {
  readonly keys: StoreKeys;
  private readonly etcd: InventoryOptions['etcd'];
  private readonly log: StoreLog;

  constructor(options: InventoryOptions) {
    this.etcd = options.etcd;
    this.keys = options.keys ?? new StoreKeys();
    this.log = options.log;
  }

  // ---- requests (queued for the leader)

  /** Records the host and queues `host-add`; refused when a host of that id is recorded. */
  async addHost(input: unknown, by: string): Promise<Queued> {
    const parsed = hostRecord.safeParse(input);
    if (!parsed.success) throw new InventoryError('invalid', `host record refused: ${describeIssues(parsed.error)}`);
    const record = parsed.data;
    const key = this.keys.key('hosts', record.id);
    const command: Command = {
      kind: 'host-add',
      spec: hostSpecOf(record),
      by: checkBy(by),
    };
    return this.queueWithRecord(command, key, JSON.stringify(record), `host ${record.id}`);
  }

  /** Queues `host-remove` (the leader refuses it unless the host is in maintenance with no VM). */
  removeHost(host: string, by: string): Promise<Queued> {
    return this.queueForHost({ kind: 'host-remove', host: hostId(host), by: checkBy(by) });
  }

  /** `on`: out of fencing and placement, its VMs moved away (refused while it runs VMs when keepVms); off: activate. */
  maintenance(host: string, on: boolean, keepVms: boolean, by: string): Promise<Queued> {
    return this.queueForHost({ kind: 'maintenance', host: hostId(host), on, keepVms, by: checkBy(by) });
  }

  /** A person says the host is off (or was rebooted): the leader may then restart its VMs elsewhere. */
  confirmRebooted(host: string, by: string): Promise<Queued> {
    return this.queueForHost({ kind: 'confirm-rebooted', host: hostId(host), by: checkBy(by) });
  }

  /** Records the VM's definition (its XML) and queues `vm-define`; refused when that UUID is already defined. */
  async defineVm(xml: string, options: { ha?: boolean; priority?: number }, by: string): Promise<Queued> {
    const domain = summarizeDomain(xml);
    const parsed = vmDefinitionRecord.safeParse({
      id: domain.uuid,
      name: domain.name,
      xml,
      memMiB: domain.memMiB,
      ...options,
    });
    if (!parsed.success) throw new InventoryError('invalid', `VM definition refused: ${describeIssues(parsed.error)}`);
    const def = parsed.data;
    const key = this.keys.key('vm-defs', def.id);
    const command: Command = {
      kind: 'vm-define',
      vm: { id: def.id, ha: def.ha, priority: def.priority, memMiB: def.memMiB },
      by: checkBy(by),
    };
    return this.queueWithRecord(command, key, JSON.stringify(def), `VM ${def.id}`);
  }

  /** Queues `vm-start`, on `host` when given (the leader refuses a host that is not Up or lacks the memory). */
  async startVm(vm: string, host: string | undefined, by: string): Promise<Queued> {
    const id = vmId(vm);
    const command: Command = {
      kind: 'vm-start',
      vm: id,
      ...(host === undefined ? {} : { host: hostId(host) }),
      by: checkBy(by),
    };
    const defKey = this.keys.key('vm-defs', id);
    const compare = [exists(defKey), ...(command.host ? [exists(this.keys.key('hosts', command.host))] : [])];
    return this.queue(command, compare, [], () => {
      throw new InventoryError('not-found', command.host ? `no VM ${id} or no host ${command.host}` : `no VM ${id}`);
    });
  }

  stopVm(vm: string, by: string): Promise<Queued> {
    return this.queueForVm({ kind: 'vm-stop', vm: vmId(vm), by: checkBy(by) });
  }

  /** Queues `vm-remove` (the leader refuses it unless the VM is stopped, down or in error). */
  removeVm(vm: string, by: string): Promise<Queued> {
    return this.queueForVm({ kind: 'vm-remove', vm: vmId(vm), by: checkBy(by) });
  }

  // ---- reads

  /** Every recorded host with the leader's state of it and its fence intent, by id, at one revision. */
  async hosts(): Promise<HostView[]> {
    const [records = [], states = [], intents = []] = await this.read(['hosts', 'host-state', 'fence']);
    const state = this.byId('host-state', states, (kv) => decode(hostStateSchema, kv, this.log));
    const intent = this.byId('fence', intents, (kv) => decode(fenceIntentSchema, kv, this.log));
    const views: HostView[] = [];
    for (const kv of records) {
      const rec = decode(hostRecord, kv, this.log);
      if (!rec) continue;
      views.push({
        record: rec,
        maintenance: state.get(rec.id)?.maintenance ?? null,
        intent: intent.get(rec.id) ?? null,
      });
    }
    return views;
  }

  /** Every VM, defined or recorded by the core, by id, at one revision; the XML stays out (vmDefinition has it). */
  async vms(): Promise<VmView[]> {
    const [defs = [], records = []] = await this.read(['vm-defs', 'vms']);
    const record = this.byId('vms', records, (kv) => decode(vmRecordSchema, kv, this.log));
    const views = new Map<string, VmView>();
    for (const kv of defs) {
      const def = decode(vmDefinitionRecord, kv, this.log);
      if (!def) continue;
      const { xml: _xml, id, name, ...definition } = def;
      views.set(id, { id, name, definition, record: record.get(id) ?? null });
    }
    for (const [id, rec] of record)
      if (!views.has(id)) views.set(id, { id, name: null, definition: null, record: rec });
    return [...views.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** A VM's definition with its domain XML (what VM.create is given); undefined when not defined. */
  async vmDefinition(vm: string): Promise<VmDefinitionRecord | undefined> {
    const r = await this.etcd.range({ key: this.keys.key('vm-defs', vmId(vm)) });
    const kv = r.kvs[0];
    return kv && decode(vmDefinitionRecord, kv, this.log);
  }

  /** The audit trail, oldest first: the latest `limit` entries, or the `limit` after the entry `since`. */
  events(options: { since?: string; limit?: number } = {}): Promise<AuditPage> {
    return readAudit(this.etcd, this.keys, this.log, options);
  }

  /** New audit entries as they are written (`events --follow`), until `options.signal` fires. */
  follow(options: FollowOptions): Promise<void> {
    return followAudit(this.etcd, this.keys, this.log, options);
  }

  // ---- helpers

  private queueForHost(command: Command & { host: string }): Promise<Queued> {
    return this.queue(command, [exists(this.keys.key('hosts', command.host))], [], () => {
      throw new InventoryError('not-found', `no host ${command.host}`);
    });
  }

  private queueForVm(command: Command & { vm: string }): Promise<Queued> {
    return this.queue(command, [exists(this.keys.key('vm-defs', command.vm))], [], () => {
      throw new InventoryError('not-found', `no VM ${command.vm}`);
    });
  }

  /**
   * `command` queued with its record, when no record of that key exists. The same record again is a re-issue (its
   * first command may have been taken by a leader that died before acting on it): only the command is queued again.
   * Another record under that key is refused.
   */
  private async queueWithRecord(command: Command, key: string, value: string, what: string): Promise<Queued> {
    const taken = () => {
      throw new InventoryError('exists', `${what} is already recorded, with other settings`);
    };
    const put = enqueueOp(this.keys, command);
    const r = await this.etcd.txn({
      compare: [absent(key)],
      success: [{ op: 'put', key, value }, put],
      failure: [{ op: 'range', key }],
    });
    if (r.succeeded) return { command, key: put.key, revision: r.revision };
    const held = r.responses[0];
    if (held?.op !== 'range' || held.kvs[0]?.value !== value) taken();
    return this.queue(command, [{ key, target: 'value', value }], [], taken);
  }

  /** `command` queued with `ops`, all or nothing, if every `compare` holds; else `refused()` says why. */
  private async queue(command: Command, compare: Compare[], ops: TxnOp[], refused: () => never): Promise<Queued> {
    const put = enqueueOp(this.keys, command);
    const r = await this.etcd.txn({ compare, success: [...ops, put] });
    if (!r.succeeded) refused();
    return { command, key: put.key, revision: r.revision };
  }

  /** The given sections, read in one transaction (one revision). */
  private async read(sections: ('hosts' | 'host-state' | 'fence' | 'vm-defs' | 'vms')[]): Promise<KeyValue[][]> {
    const r = await this.etcd.txn({
      compare: [],
      success: sections.map((s) => ({ op: 'range', key: this.keys.section(s), prefix: true })),
    });
    return r.responses.map((resp) => (resp.op === 'range' ? resp.kvs : []));
  }

  private byId<T>(
    section: 'host-state' | 'fence' | 'vms',
    kvs: KeyValue[],
    read: (kv: KeyValue) => T | undefined,
  ): Map<string, T> {
    const out = new Map<string, T>();
    for (const kv of kvs) {
      const id = this.keys.idOf(section, kv.key);
      const value = id === undefined ? undefined : read(kv);
      if (id !== undefined && value !== undefined) out.set(id, value);
    }
    return out;
  }
}

function checkBy(by: string): string {
  if (typeof by !== 'string' || by.trim() === '' || by.length > 200)
    throw new InventoryError('invalid', 'who asks ("by") must be a name of 1 to 200 characters');
  return by;
}

function hostId(id: string): string {
  if (typeof id !== 'string' || !NAME.test(id))
    throw new InventoryError('invalid', 'a host id takes letters, digits, ".", "_" and "-" (at most 63)');
  return id;
}

function vmId(id: string): string {
  const lower = typeof id === 'string' ? id.toLowerCase() : '';
  if (!VM_ID.test(lower)) throw new InventoryError('invalid', 'a VM id is its domain UUID');
  return lower;
}
