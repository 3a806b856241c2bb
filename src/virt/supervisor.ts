import type { Logger } from 'pino';
import type { EventBus } from '../common/events.js';
import type { Hypervisor } from './hypervisor.js';
import { openLibvirt } from './libvirt.js';
import { VmManager } from './manager.js';

export interface VirtOptions {
  uri: string;
  events: EventBus;
  log: Logger;
  guestWaitMs: number;
  sampleIntervalMs: number;
  /** The VM container became usable (recovery done) or unusable (libvirt lost); vdsmd answers 99 meanwhile. */
  onChange(vms: VmManager | undefined): void;
  open?: (uri: string) => Promise<Hypervisor>;
}

const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 2000;

/**
 * Keeps vdsmd connected to libvirt: connects (retrying while libvirtd is not up, as vdsm's recovery does),
 * recovers the running domains, and starts over if the connection is lost, instead of vdsm's self-kill.
 */
export class VirtSupervisor {
  private stopped = false;
  private current: { hv: Hypervisor; vms: VmManager } | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: VirtOptions) {}

  /** Starts connecting; the promise resolves once the first recovery is done (or close() is called). */
  start(): Promise<void> {
    let firstReady!: () => void;
    const ready = new Promise<void>((resolve) => (firstReady = resolve));
    this.loop = this.run(firstReady);
    return ready;
  }

  private async run(firstReady: () => void): Promise<void> {
    const { log } = this.options;
    let delay = RETRY_FIRST_MS;
    let failures = 0;
    while (!this.stopped) {
      let hv: Hypervisor | undefined;
      try {
        hv = await (this.options.open ?? openLibvirt)(this.options.uri);
        const lost = new Promise<string>((resolve) => hv!.onClose(resolve));
        const vms = new VmManager(hv, this.options);
        const started = Date.now();
        const count = await vms.recover();
        if (this.stopped) {
          await vms.close();
          await hv.close();
          break;
        }
        this.current = { hv, vms };
        log.info(
          { uri: this.options.uri, vms: count, ms: Date.now() - started },
          'libvirt connected; recovery finished',
        );
        this.options.onChange(vms);
        firstReady();
        delay = RETRY_FIRST_MS;
        failures = 0;
        const reason = await Promise.race([lost, this.sleep(Infinity).then(() => 'stopping')]);
        this.current = undefined;
        this.options.onChange(undefined);
        await vms.close();
        await hv.close().catch(() => {});
        if (this.stopped) break;
        log.error({ uri: this.options.uri, reason }, 'libvirt connection lost; answering 99 until it is back');
      } catch (err) {
        await hv?.close().catch(() => {});
        // The first failure, then one in 30, so a long libvirtd outage does not flood the log.
        if (failures++ % 30 === 0)
          log.warn(
            { uri: this.options.uri, err: (err as Error).message, failures },
            'cannot connect to libvirt; retrying',
          );
        await this.sleep(delay);
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
    firstReady();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  get vms(): VmManager | undefined {
    return this.current?.vms;
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }
}
