/**
 * A host's BMC: ipmi_sim (test/fixtures/ipmi-sim.ts) whose chassis power is made real. A watcher reads the
 * transitions the BMC carried out (every 200 ms) and applies each to the host in order: "power 0" (or a soft
 * "shutdown") kills vdsmd with its guests, "power 1" starts vdsmd again on its port, "reset" does both. A dead BMC
 * is the simulator stopped: nothing answers on its port any more. No vitest here.
 */
import { type IpmiSim, startIpmiSim } from '../fixtures/ipmi-sim.js';
import { sleep } from '../support/wait.js';
import type { BedHost } from './bed-host.js';

export class Bmc {
  private applied = 0;
  private last: string[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Failures of the watcher (a power-on whose vdsmd did not start): reported by the bed. */
  readonly errors: string[] = [];

  private constructor(
    readonly host: BedHost,
    private sim: IpmiSim | undefined,
    readonly port: number,
  ) {}

  static async start(host: BedHost, password: string): Promise<Bmc> {
    const sim = await startIpmiSim({ user: 'admin', password });
    const bmc = new Bmc(host, sim, sim.port);
    bmc.loop = bmc.watch();
    return bmc;
  }

  /** Every chassis control the BMC carried out, in order ("power 0", "power 1", ...), kept after it died. */
  transitions(): string[] {
    if (this.sim) this.last = this.sim.transitions();
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
    this.transitions();
    this.sim = undefined;
    await sim.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.kill();
  }
}
