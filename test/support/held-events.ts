import { openLibvirt } from '../../src/virt/libvirt.js';
import type { Hypervisor, LifecycleEvent } from '../../src/virt/hypervisor.js';

const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * A real libvirt connection whose lifecycle events of one type can be held back or dropped before they reach its
 * listeners: the event loop of a busy host delivers them late, and a lost connection never. Everything else is
 * libvirt's own.
 */
export class HeldEvents {
  /** The connection as libvirt delivers it, for a listener that must see events on time. */
  inner: Hypervisor | undefined;
  /** Milliseconds the events of `type` wait before delivery; `Infinity` drops them. 0: delivered as they come. */
  holdMs = 0;
  type = -1;
  /** When each held event was handed to the listeners (monotonic ms), by domain uuid. */
  readonly delivered = new Map<string, number>();

  open = async (uri: string): Promise<Hypervisor> => {
    const hv = await openLibvirt(uri);
    this.inner = hv;
    return new Proxy(hv, {
      get: (target, prop, receiver) => {
        if (prop !== 'onLifecycle') return Reflect.get(target, prop, receiver) as unknown;
        return (listener: (event: LifecycleEvent) => void) =>
          target.onLifecycle((event) => {
            if (event.event !== this.type || this.holdMs === 0) return listener(event);
            if (this.holdMs === Infinity) return;
            setTimeout(() => {
              this.delivered.set(event.uuid, monotonicMs());
              listener(event);
            }, this.holdMs);
          });
      },
    });
  };
}
