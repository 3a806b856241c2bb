/**
 * The bed's own eyes, independent of the coordinator: every ~500 ms it asks every host's vdsmd what it lists
 * (Host.getVMList, bounded, all hosts at once). It fails closed: a VM that is not Down on two hosts in one sample is
 * a violation; a host that could not be asked is "unknown" in that sample, never "runs nothing". No vitest here.
 */
import { sleep } from '../support/wait.js';
import { type Endpoint, type TlsFiles, vmList } from './vdsm-ask.js';

export interface HostSample {
  /** VM ids it lists that are not Down (running, paused, powering up, ...). */
  running?: string[];
  /** VM ids it lists Up. */
  up?: string[];
  /** Why it could not be asked (then it is unknown in this sample). */
  unknown?: string;
}

export interface Sample {
  /** Date.now() when the sample was started (wall clock, as the coordinators' log and audit times). */
  at: number;
  hosts: Record<string, HostSample>;
}

export interface SamplerTarget {
  name: string;
  endpoint(): Endpoint;
}

/** VMs listed (not Down) on two hosts or more in one sample: "id on a+b at T" each. */
export function doubles(samples: Sample[]): string[] {
  const out: string[] = [];
  for (const s of samples) {
    const where = new Map<string, string[]>();
    for (const [host, h] of Object.entries(s.hosts))
      for (const id of h.running ?? []) where.set(id, [...(where.get(id) ?? []), host]);
    for (const [id, hosts] of where)
      if (hosts.length > 1) out.push(`${id} on ${hosts.sort().join('+')} at ${new Date(s.at).toISOString()}`);
  }
  return out;
}

export class Sampler {
  readonly samples: Sample[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly targets: () => SamplerTarget[],
    private readonly creds: TlsFiles,
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
    await Promise.all(
      this.targets().map(async (t) => {
        try {
          const list = await vmList(t.endpoint(), this.creds, this.boundMs);
          hosts[t.name] = {
            running: list.filter((v) => v.status !== 'Down').map((v) => v.vmId),
            up: list.filter((v) => v.status === 'Up').map((v) => v.vmId),
          };
        } catch (err) {
          hosts[t.name] = { unknown: (err as Error).message };
        }
      }),
    );
    const s = { at, hosts };
    this.samples.push(s);
    return s;
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

  /** Every host `vm` was ever listed on (not Down) from `from` on. */
  hostsOf(vm: string, from = 0): string[] {
    const seen = new Set<string>();
    for (const s of this.since(from))
      for (const [h, x] of Object.entries(s.hosts)) if (x.running?.includes(vm)) seen.add(h);
    return [...seen].sort();
  }

  /** The latest sample in which every host answered. */
  lastComplete(): Sample | undefined {
    return [...this.samples].reverse().find((s) => Object.values(s.hosts).every((h) => !h.unknown));
  }
}
