/**
 * The bed's own eyes, independent of the coordinator: every ~500 ms it asks every host's vdsmd what it lists
 * (Host.getVMList, bounded, all hosts at once) and, when the guests are QEMU, which guest processes run in each
 * host's network namespace (read from /proc: it answers even for a host that is cut off, frozen or without vdsmd).
 * It fails closed: a VM that runs (listed not Down, or its QEMU there) on two hosts in one sample is a violation; a
 * host whose vdsmd could not be asked is "unknown" in that sample, never "runs nothing". It also watches each QEMU
 * guest's serial console for the marker the guest prints once booted: when a guest answered. No vitest here.
 */
import { readFileSync, statSync } from 'node:fs';
import { TINY_GUEST_MARKER } from '../fixtures/tiny-guest.js';
import { sleep } from '../support/wait.js';
import { qemuByNetns } from './bed-qemu.js';
import { type Endpoint, type TlsFiles, vmList } from './vdsm-ask.js';

export interface HostSample {
  /** VM ids it lists that are not Down (running, paused, powering up, ...). */
  running?: string[];
  /** VM ids it lists Up. */
  up?: string[];
  /** Why its vdsmd could not be asked (then its listing is unknown in this sample). */
  unknown?: string;
  /** QEMU guests in its namespace, uuid → pid (QEMU guests only; absent when /proc could not be read). */
  qemu?: Record<string, number>;
}

export interface Sample {
  /** Date.now() when the sample was started (wall clock, as the coordinators' log and audit times). */
  at: number;
  hosts: Record<string, HostSample>;
}

export interface SamplerTarget {
  name: string;
  endpoint(): Endpoint;
  /** Its network namespace's inode, when its guests are QEMU processes in it. */
  netns?: number;
}

/** A guest's console: the file its QEMU (wherever it runs) writes the serial port to. */
export interface GuestConsole {
  id: string;
  file: string;
}

/** A guest that printed its ready marker: when the sampler saw it, and when it first saw that guest's QEMU. */
export interface GuestAnswer {
  id: string;
  at: number;
  startedAt: number;
}

/** Whether `h` runs VM `id` in this sample: listed not Down by its vdsmd, or a QEMU process of it there. */
export function runsOn(h: HostSample, id: string): boolean {
  return (h.running?.includes(id) ?? false) || (h.qemu !== undefined && id in h.qemu);
}

/** VMs running (listed not Down, or its QEMU there) on two hosts or more in one sample: "id on a+b at T" each. */
export function doubles(samples: Sample[]): string[] {
  const out: string[] = [];
  for (const s of samples) {
    const where = new Map<string, string[]>();
    for (const [host, h] of Object.entries(s.hosts))
      for (const id of new Set([...(h.running ?? []), ...Object.keys(h.qemu ?? {})]))
        where.set(id, [...(where.get(id) ?? []), host]);
    for (const [id, hosts] of where)
      if (hosts.length > 1) out.push(`${id} on ${hosts.sort().join('+')} at ${new Date(s.at).toISOString()}`);
  }
  return out;
}

export class Sampler {
  readonly samples: Sample[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  /** Every guest that printed its marker, in order (QEMU guests only). */
  readonly answers: GuestAnswer[] = [];
  private readonly consoles = new Map<string, { pid: number; startedAt: number; answered: boolean }>();

  constructor(
    private readonly targets: () => SamplerTarget[],
    private readonly creds: TlsFiles,
    private readonly guestConsoles: () => GuestConsole[] = () => [],
    private readonly everyMs = 500,
    private readonly boundMs = 1500,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** One sample of every host now. */
  async sampleOnce(): Promise<Sample> {
    const at = Date.now();
    const hosts: Record<string, HostSample> = {};
    const targets = this.targets();
    const processes = targets.some((t) => t.netns !== undefined) ? readQemu() : undefined;
    this.watchConsoles(at, processes);
    await Promise.all(
      targets.map(async (t) => {
        const qemu = t.netns !== undefined && processes ? { qemu: processes.get(t.netns) ?? {} } : {};
        try {
          const list = await vmList(t.endpoint(), this.creds, this.boundMs);
          hosts[t.name] = {
            running: list.filter((v) => v.status !== 'Down').map((v) => v.vmId),
            up: list.filter((v) => v.status === 'Up').map((v) => v.vmId),
            ...qemu,
          };
        } catch (err) {
          hosts[t.name] = { unknown: (err as Error).message, ...qemu };
        }
      }),
    );
    const s = { at, hosts };
    this.samples.push(s);
    return s;
  }

  /**
   * A QEMU pid not seen before for a VM (on any host) is a start of its guest; the first look after it that finds the
   * marker in its console, written since (QEMU truncates the file when it starts, the marker comes seconds later
   * from the booted guest), is when that guest answered.
   */
  private watchConsoles(at: number, processes: Map<number, Record<string, number>> | undefined): void {
    for (const guests of processes?.values() ?? [])
      for (const [id, pid] of Object.entries(guests)) {
        const st = this.consoles.get(id);
        if (st?.pid !== pid) this.consoles.set(id, { pid, startedAt: at, answered: false });
      }
    for (const c of this.guestConsoles()) {
      const st = this.consoles.get(c.id);
      if (!st || st.answered) continue;
      try {
        if (statSync(c.file).mtimeMs < st.startedAt || !readFileSync(c.file, 'utf8').includes(TINY_GUEST_MARKER))
          continue;
      } catch {
        continue; // not written yet
      }
      st.answered = true;
      this.answers.push({ id: c.id, at, startedAt: st.startedAt });
    }
  }

  /** When `vm`'s guest first answered from a QEMU first seen at or after `from`. */
  firstAnswer(vm: string, from: number): GuestAnswer | undefined {
    return this.answers.find((a) => a.id === vm && a.startedAt >= from);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      await this.sampleOnce();
      await sleep(Math.max(50, this.everyMs - (Date.now() - started)));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  since(at: number): Sample[] {
    return this.samples.filter((s) => s.at >= at);
  }

  /** The violations so far: a VM on two hosts in one sample. */
  doubles(): string[] {
    return doubles(this.samples);
  }

  /** Samples in which each host was unknown, by host. */
  unknownCounts(from = 0): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.since(from))
      for (const [h, x] of Object.entries(s.hosts)) if (x.unknown) out[h] = (out[h] ?? 0) + 1;
    return out;
  }

  /** The first sample time (from `from` on) at which `vm` was listed Up on some host, and where. */
  firstUp(vm: string, from = 0, notOn: string[] = []): { at: number; host: string } | undefined {
    for (const s of this.since(from))
      for (const [h, x] of Object.entries(s.hosts))
        if (!notOn.includes(h) && x.up?.includes(vm)) return { at: s.at, host: h };
    return undefined;
  }

  /** Every host `vm` was ever seen running on (listed not Down, or its QEMU there) from `from` on. */
  hostsOf(vm: string, from = 0): string[] {
    const seen = new Set<string>();
    for (const s of this.since(from)) for (const [h, x] of Object.entries(s.hosts)) if (runsOn(x, vm)) seen.add(h);
    return [...seen].sort();
  }

  /** The QEMU pids `vm` had on `host` from `from` on, in order, each once (QEMU guests only). */
  qemuPids(vm: string, host: string, from = 0): number[] {
    const pids: number[] = [];
    for (const s of this.since(from)) {
      const pid = s.hosts[host]?.qemu?.[vm];
      if (pid !== undefined && pids.at(-1) !== pid) pids.push(pid);
    }
    return pids;
  }

  /** The latest sample in which every host answered. */
  lastComplete(): Sample | undefined {
    return [...this.samples].reverse().find((s) => Object.values(s.hosts).every((h) => !h.unknown));
  }
}

/** QEMU processes by network namespace inode; undefined when /proc could not be read (then nobody's is known). */
function readQemu(): Map<number, Record<string, number>> | undefined {
  try {
    return qemuByNetns();
  } catch {
    return undefined;
  }
}
