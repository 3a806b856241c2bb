/**
 * Where the coordinator's state lives in etcd, under one prefix (src/coordinator/store/README.md lists every key).
 * A key part is a host id, a VM id or a generated name; never a value.
 */
import { randomBytes } from 'node:crypto';

export const DEFAULT_PREFIX = '/vdsm-ts/coordinator/';

export type Section = 'hosts' | 'host-state' | 'fence' | 'vms' | 'vm-defs' | 'commands' | 'audit';

export class StoreKeys {
  constructor(
    readonly prefix: string = DEFAULT_PREFIX,
    /** Wall-clock milliseconds, only for command names (replicas' clocks may differ: the order does not use it). */
    private readonly wallClock: () => number = Date.now,
  ) {
    if (!prefix.startsWith('/') || !prefix.endsWith('/') || prefix.length < 2)
      throw new Error('the store prefix must start and end with "/" (e.g. /vdsm-ts/coordinator/)');
  }

  /** The name to campaign with (src/coordinator/etcd/leadership.ts): leader keys are `<prefix>leader/<lease>`. */
  get election(): string {
    return `${this.prefix}leader`;
  }

  /** Every key of a section ends with `/`, so that `hosts/` never matches `host-state/`. */
  section(s: Section): string {
    return `${this.prefix}${s}/`;
  }

  key(s: Section, id: string): string {
    return `${this.section(s)}${id}`;
  }

  /** The id part of a key of section `s`, or undefined when the key is not one of that section. */
  idOf(s: Section, key: string): string | undefined {
    const start = this.section(s);
    return key.startsWith(start) && key.length > start.length ? key.slice(start.length) : undefined;
  }

  /**
   * A new command key. Commands are taken in etcd's commit order (create revision), not in key order, so that two
   * writers with different clocks cannot reorder them; the time in the name is only there for a person reading it.
   */
  newCommandKey(): string {
    const ms = String(Math.max(0, Math.floor(this.wallClock()))).padStart(13, '0');
    return this.key('commands', `${ms}-${randomBytes(6).toString('hex')}`);
  }
}

/**
 * An audit entry's id: the writer's epoch and its sequence number within that epoch, zero-padded so that key order
 * is write order across leaders (a later leader's epoch is always higher: it is the create revision of a later key).
 */
export function auditId(epoch: number, seq: number): string {
  return `${String(epoch).padStart(16, '0')}-${String(seq).padStart(10, '0')}`;
}

export const AUDIT_ID = /^(\d{16})-(\d{10})$/;

export function parseAuditId(id: string): { epoch: number; seq: number } | undefined {
  const m = AUDIT_ID.exec(id);
  return m ? { epoch: Number(m[1]), seq: Number(m[2]) } : undefined;
}
