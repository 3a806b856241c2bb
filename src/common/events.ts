import { EventEmitter } from 'node:events';

/** An event as vdsm names it: `|<component>|<operation>|<unique id>`, e.g. `|virt|VM_status|<vmId>`. */
export interface HostEvent {
  method: string;
  params: Record<string, unknown>;
}

/**
 * vdsm's notify_time: milliseconds of the system's monotonic clock (process.hrtime is CLOCK_MONOTONIC, the same
 * clock vdsm reads), offset by INT32_MAX because old engines misread smaller values. The engine only orders by it.
 */
export function notifyTime(): number {
  return 2147483647 + Number(process.hrtime.bigint() / 1_000_000n);
}

/** The bus that verbs and subsystems publish to; the STOMP broker forwards to `jms.queue.events`. */
export class EventBus {
  private readonly emitter = new EventEmitter();

  publish(component: string, operation: string, uniqueId: string, payload: Record<string, unknown>): HostEvent {
    const event: HostEvent = {
      method: `|${component}|${operation}|${uniqueId}`,
      params: { ...payload, notify_time: notifyTime() },
    };
    this.emitter.emit('event', event);
    return event;
  }

  subscribe(listener: (event: HostEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
