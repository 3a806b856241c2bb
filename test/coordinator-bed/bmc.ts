/**
 * A host's BMC: ipmi_sim (test/fixtures/ipmi-sim.ts) whose chassis power is made real. A watcher reads the
 * transitions the BMC carried out (every 200 ms) and applies each to the host in order: "power 0" (or a soft
 * "shutdown") kills vdsmd with its guests (in the netns bed every process of the host's machine, and its links go
 * down), "power 1" starts it again on its port, "reset" does both. A dead BMC is the simulator stopped: nothing
 * answers on its port any more; restored, a new simulator answers there, reading the host's power as it is.
 * No vitest here.
 */
import { type IpmiSim, type IpmiSimOptions, startIpmiSim } from '../fixtures/ipmi-sim.js';
import { sleep } from '../support/wait.js';
import type { BedHost } from './bed-host.js';

/** The standard IPMI-over-LAN port: a BMC of the netns bed has an address of its own. */
export const IPMI_PORT = 623;

export class Bmc {
  private applied = 0;
  /** The transitions of the simulators that died before this one. */
  private past: string[] = [];
  private last: string[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Failures of the watcher (a power-on whose vdsmd did not start): reported by the bed. */
  readonly errors: string[] = [];

  private constructor(
    readonly host: BedHost,
    private sim: IpmiSim | undefined,
    readonly port: number,
    private readonly password: string,
    private readonly at: IpmiSimOptions['at'],
  ) {}

  /** On loopback, or `at` an address of its own (`ip netns exec` of the BMC's namespace). */
  static async start(host: BedHost, password: string, at?: IpmiSimOptions['at']): Promise<Bmc> {
    const sim = await startIpmiSim({ user: 'admin', password, ...(at ? { at } : {}) });
    const bmc = new Bmc(host, sim, sim.port, password, at);
    bmc.loop = bmc.watch();
    return bmc;
  }

  /** Where a fence agent reaches it. */
  get address(): string {
    return this.at?.address ?? '127.0.0.1';
  }

  get pid(): number | undefined {
    return this.sim?.pid;
  }

  /** Every chassis control the BMC carried out, in order ("power 0", "power 1", ...), kept after it died. */
  transitions(): string[] {
    if (this.sim) this.last = [...this.past, ...this.sim.transitions()];
    return this.last;
  }

  alive(): boolean {
    return this.sim !== undefined;
  }

  private async watch(): Promise<void> {
    while (!this.stopped) {
      const all = this.transitions();
      while (this.applied < all.length && !this.stopped) {
        const t = all[this.applied++]!;
        try {
          if (t === 'power 0' || t === 'shutdown 1') await this.host.powerOff();
          else if (t === 'power 1') await this.host.powerOn();
          else if (t === 'reset 1') {
            await this.host.powerOff();
            await this.host.powerOn();
          }
        } catch (err) {
          this.errors.push(`${this.host.name}: applying "${t}": ${(err as Error).message}`);
        }
      }
      await sleep(200);
    }
  }

  /** The machine's power is cut behind the BMC's back: the BMC reads OFF from now on, and saw no transition. */
  async powerCut(): Promise<void> {
    this.sim?.setPower('off');
    await this.host.powerOff();
  }

  /** The BMC dies: its simulator is stopped (what it did so far stays readable). */
  async kill(): Promise<void> {
    const sim = this.sim;
    if (!sim) return;
    this.past = this.transitions();
    this.sim = undefined;
    await sim.stop();
  }

  /** A dead BMC answers again (same address and port), reading the host's power as it is. */
  async restore(): Promise<void> {
    if (this.sim) return;
    const power = this.host.alive() ? 'on' : 'off';
    const at = this.at ?? { address: '127.0.0.1', port: this.port, wrap: [] };
    this.sim = await startIpmiSim({ user: 'admin', password: this.password, power, at });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.kill();
  }
}
