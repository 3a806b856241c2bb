import { readDirect, type DirectRead } from '../storage/direct-read.js';
import { runSanlock, SanlockError, type SanlockRun } from '../storage/sanlock-run.js';
import type { EngineLease, LeaseHolder } from './lease.js';

/** Where the engine VM's resource lease sits in the lockspace file: after the 1 MiB of host-id (delta) leases. */
export const RESOURCE_OFFSET = 1024 * 1024;
/** The resource lease's name inside the lockspace. */
export const RESOURCE_NAME = 'engine-vm';
/** A paxos dblock's flag: its host released the lease at the dblock's lver (sanlock's DBLOCK_FL_RELEASED). */
const DBLOCK_RELEASED = 0x1;

export interface SanlockConf {
  /** Lockspace name (upstream: hosted-engine). */
  name: string;
  /** The lockspace file on shared storage: host-id leases at 0, the engine VM's resource lease at 1 MiB. */
  path: string;
  hostId: number;
  /** sanlock's io_timeout for this lockspace, seconds; a dead host's leases are free 8 × it + 60 s after its last renewal. */
  ioTimeout: number;
}

/** A host's state in the lockspace, as the local sanlock daemon last saw its host-id lease. */
export type HostState = 'LIVE' | 'FAIL' | 'DEAD' | 'FREE' | 'UNKNOWN';

/**
 * The engine VM lock on sanlock, the way upstream does it: each host joins the lockspace with its host id (a
 * delta lease the local sanlock daemon renews), and the engine VM's resource lease is acquired by libvirt's
 * sanlock lock manager for the VM's qemu process, from the `<lease>` in the domain XML. So the lease lives and
 * dies with qemu: it is released when qemu exits, sanlock kills qemu if this host cannot renew its host-id
 * lease, and another host can take it only once this host is provably dead (8 × io_timeout + 60 s).
 *
 * Hence prepareStart() only looks before the start (is the lease free, ours, or its holder dead?); the start
 * itself is the arbiter. confirmHold() reads whether this host's qemu still holds it; releaseAfterStop() has
 * nothing to do.
 */
export class SanlockLease implements EngineLease {
  constructor(
    private readonly conf: SanlockConf,
    private readonly run: SanlockRun = runSanlock,
    private readonly read: DirectRead = readDirect,
  ) {}

  private get lockspace(): string {
    return `${this.conf.name}:${this.conf.hostId}:${this.conf.path}:0`;
  }

  get resource(): string {
    return `${this.conf.name}:${RESOURCE_NAME}:${this.conf.path}:${RESOURCE_OFFSET}`;
  }

  /** The device to add to the engine VM's domain XML so that libvirt acquires the lease for qemu. */
  leaseXml(): string {
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');
    return `<lease><lockspace>${esc(this.conf.name)}</lockspace><key>${RESOURCE_NAME}</key><target path='${esc(this.conf.path)}' offset='${RESOURCE_OFFSET}'/></lease>`;
  }

  /** Whether the local daemon holds our host-id lease ("s name:id:path:0" without ADD or REM). */
  async joined(): Promise<boolean> {
    const out = await this.run(['client', 'gets'], 10_000);
    return out.split('\n').some((l) => l.trim() === `s ${this.lockspace}`);
  }

  /** Joins the lockspace with our host id; sanlock takes about 3 × io_timeout to be sure nobody else uses it. */
  async join(): Promise<void> {
    await this.run(
      ['client', 'add_lockspace', '-o', String(this.conf.ioTimeout), '-s', this.lockspace],
      (this.conf.ioTimeout * 25 + 10) * 1000,
    );
  }

  /** Every host's state in the lockspace as the local daemon sees it (empty when we have not joined). */
  async hostStates(): Promise<Map<number, HostState>> {
    const out = await this.run(['client', 'gets', '-h', '1'], 10_000);
    const states = new Map<number, HostState>();
    for (const m of out.matchAll(/^h (\d+) gen \d+ timestamp \d+ (\w+)/gm)) states.set(Number(m[1]), m[2] as HostState);
    return states;
  }

  /**
   * The resource lease's owner from its leader record on disk; null when it is free, its owner is dead, or its owner
   * released it. The leader record alone can say "held" for ever: when two hosts start the engine VM at the same
   * moment, one host's ballot may complete the other's acquire (it writes the leader: owner the other host, writer
   * itself); the owner's release then leaves that leader as it is and only marks its own dblock released (sanlock
   * logs "paxos_release skip write"). sanlock's acquire reads the owner's dblock exactly when writer and owner differ
   * ("owner dblock released"), and so do we: what we call free is what sanlock would take.
   */
  async holder(): Promise<LeaseHolder | null> {
    const out = await this.run(['direct', 'read_leader', '-r', this.resource], 15_000);
    const field = (k: string) => Number(new RegExp(`^${k} (\\d+)`, 'm').exec(out)?.[1] ?? NaN);
    const owner = field('owner_id');
    const timestamp = field('timestamp');
    if (!Number.isInteger(owner))
      throw new SanlockError(`sanlock read_leader ${this.resource}: no owner in its answer`);
    if (timestamp === 0) return null;
    if (field('write_id') !== owner && (await this.releasedBy(owner, field('sector_size')))) return null;
    const state = owner === this.conf.hostId ? 'LIVE' : ((await this.hostStates()).get(owner) ?? 'UNKNOWN');
    if (state === 'DEAD' || state === 'FREE') return null;
    return { hostId: owner, renewedAt: timestamp, state };
  }

  /**
   * Whether `owner`'s dblock carries the released flag. A paxos lease is a leader sector, a request sector, then one
   * dblock sector per host id: mbal, bal, inp, inp2, inp3, lver (u64 each), checksum, flags (u32), little-endian.
   */
  private async releasedBy(owner: number, sectorSize: number): Promise<boolean> {
    const size = sectorSize === 4096 ? 4096 : 512;
    if (!Number.isInteger(owner) || owner < 1) return false;
    const block = await this.read(this.conf.path, RESOURCE_OFFSET + size * (owner + 1), size, 15_000);
    return (block.readUInt32LE(52) & DBLOCK_RELEASED) !== 0;
  }

  async prepareStart(hostId: number): Promise<boolean> {
    const h = await this.holder();
    return h === null || h.hostId === hostId;
  }

  async confirmHold(hostId: number): Promise<boolean> {
    return (await this.holder())?.hostId === hostId;
  }

  async releaseAfterStop(): Promise<void> {
    // qemu holds the lease; it goes when qemu exits.
  }

  /** Writes a fresh lockspace and resource lease: every host's hold on them is lost. Only with all agents stopped. */
  async reset(): Promise<void> {
    const io = String(this.conf.ioTimeout);
    await this.run(['direct', 'init', '-o', io, '-s', `${this.conf.name}:0:${this.conf.path}:0`], 60_000);
    await this.run(['direct', 'init', '-r', this.resource], 60_000);
  }
}
