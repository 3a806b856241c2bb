/**
 * A netns bed host's guests as real QEMU: a private libvirtd inside the host's network namespace
 * (test/fixtures/libvirtd.ts), the tiny guest of test/fixtures/tiny-guest.ts as every VM, and the harness's
 * process-level view of which guests run where. QEMU is a process of the host's namespace: a vdsmd killed leaves it
 * running, a power-off (every process of the namespace killed) takes it. No vitest here.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startLibvirtd, type Libvirtd } from '../fixtures/libvirtd.js';
import { signal } from '../support/proc-pids.js';

export class HostQemu {
  private lv: Libvirtd | undefined;

  constructor(
    readonly host: string,
    readonly ns: string,
    /** Its network namespace's inode: how the harness tells its processes from the others' (qemuByNetns). */
    readonly netnsInode: number,
  ) {}

  /** vdsmd's libvirt URI (the private libvirtd's socket, reachable from any namespace: it is a file). */
  get uri(): string {
    if (!this.lv) throw new Error(`${this.host}: no libvirtd runs (powered off?)`);
    return this.lv.uri;
  }

  /** Its libvirtd's scratch directory (sockets, state, logs), while it has one. */
  get dir(): string | undefined {
    return this.lv?.dir;
  }

  /** Power on: a fresh libvirtd in the host's namespace, with no guest (the power-off took them). */
  async boot(): Promise<void> {
    if (this.lv) return;
    this.lv = await startLibvirtd({ netns: this.ns });
  }

  /**
   * Power lost: libvirtd and its QEMUs were killed with every process of the namespace; what the instance leaves
   * behind (its scratch directory, its leak record) goes.
   */
  async lost(): Promise<void> {
    const lv = this.lv;
    this.lv = undefined;
    await lv?.stop();
  }

  /** The QEMU of domain `name` dies by itself (SIGKILL, as a crash): libvirt sees its monitor go away. */
  crash(name: string): number {
    if (!this.lv) throw new Error(`${this.host}: no libvirtd runs`);
    const pid = Number(readFileSync(join(this.lv.dir, 'run', 'qemu', `${name}.pid`), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${this.host}: no QEMU pid for ${name}`);
    signal(pid, 'SIGKILL');
    return pid;
  }

  async stop(): Promise<void> {
    await this.lost();
  }
}

/** The inode of named network namespace `ns` (what /proc/PID/ns/net of its processes points at). */
export function netnsInode(ns: string): number {
  return statSync(join('/run/netns', ns)).ino;
}

/**
 * Every QEMU process on the machine by network namespace inode: the guest's uuid (its `-uuid` argument) and pid.
 * Stopped (frozen) processes count: a frozen guest still holds its VM. Zombies (no command line) do not.
 */
export function qemuByNetns(): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    let ino: number;
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!argv[0]?.includes('qemu-system')) continue;
      const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/ns/net`));
      if (!m) continue;
      ino = Number(m[1]);
    } catch {
      continue; // gone meanwhile
    }
    const i = argv.indexOf('-uuid');
    const uuid = i >= 0 ? argv[i + 1] : undefined;
    if (!uuid) continue;
    const guests = out.get(ino) ?? {};
    guests[uuid] = Number(entry);
    out.set(ino, guests);
  }
  return out;
}
