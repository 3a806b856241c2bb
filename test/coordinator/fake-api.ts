/**
 * A CoordinatorApi that records every call and answers what the test sets. Only for the claims of the HTTP layer
 * and the CLI on top of it (validation, routing, exit codes, output): the store's real implementation on etcd is
 * tested with etcd, and the whole service end to end.
 */
import type { CoordinatorApi } from '../../src/coordinator/api/api.js';
import type { Accepted, EventView, Health, HostView, StatusView, VmView } from '../../src/coordinator/api/schemas.js';

export interface Call {
  op: keyof CoordinatorApi;
  args: unknown[];
}

/** Events the test pushes to a follower, one at a time. */
class EventChannel {
  private readonly queued: EventView[] = [];
  private waiting: (() => void) | null = null;
  private ended = false;

  push(e: EventView): void {
    this.queued.push(e);
    this.waiting?.();
  }

  end(): void {
    this.ended = true;
    this.waiting?.();
  }

  async *read(signal: AbortSignal): AsyncGenerator<EventView> {
    const onAbort = () => this.waiting?.();
    signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const next = this.queued.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.ended || signal.aborted) return;
        await new Promise<void>((resolve) => (this.waiting = resolve));
        this.waiting = null;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

export class FakeCoordinatorApi implements CoordinatorApi {
  calls: Call[] = [];
  healthAnswer: Health = { ok: true, role: 'leader', epoch: 7, etcd: true };
  statusAnswer: StatusView = {
    replica: 'coord-a',
    role: 'leader',
    epoch: 7,
    leader: 'coord-a',
    etcd: true,
    hosts: { Up: 2, NonResponsive: 1 },
    vms: { running: 3 },
    globalMaintenance: false,
  };
  hostsAnswer: HostView[] = [];
  vmsAnswer: VmView[] = [];
  eventsAnswer: EventView[] = [];
  /** Thrown by the next call that changes something (then cleared). */
  failNext: Error | null = null;
  /** Answer anything here instead of the set answers (a broken implementation). */
  rawAnswer: unknown = undefined;
  readonly follow = new EventChannel();
  /** The signal the last follower got: aborted once the HTTP client is gone. */
  followSignal: AbortSignal | null = null;

  private record(op: keyof CoordinatorApi, ...args: unknown[]): void {
    this.calls.push({ op, args });
  }

  private change(op: keyof CoordinatorApi, ...args: unknown[]): Promise<Accepted> {
    this.record(op, ...args);
    const failure = this.failNext;
    this.failNext = null;
    if (failure) return Promise.reject(failure);
    return Promise.resolve({ detail: `${op} queued` });
  }

  private read<T>(op: keyof CoordinatorApi, answer: T, ...args: unknown[]): Promise<T> {
    this.record(op, ...args);
    const failure = this.failNext;
    this.failNext = null;
    if (failure) return Promise.reject(failure);
    return Promise.resolve(this.rawAnswer === undefined ? answer : (this.rawAnswer as T));
  }

  health = () => this.read('health', this.healthAnswer);
  status = () => this.read('status', this.statusAnswer);
  hosts = () => this.read('hosts', this.hostsAnswer);
  vms = () => this.read('vms', this.vmsAnswer);
  events = (q: { since?: number; limit: number }) => this.read('events', this.eventsAnswer, q);
  followEvents = (q: { since?: number }, signal: AbortSignal): AsyncIterable<EventView> => {
    this.record('followEvents', q);
    this.followSignal = signal;
    return this.follow.read(signal);
  };
  addHost = (...a: Parameters<CoordinatorApi['addHost']>) => this.change('addHost', ...a);
  removeHost = (...a: Parameters<CoordinatorApi['removeHost']>) => this.change('removeHost', ...a);
  setMaintenance = (...a: Parameters<CoordinatorApi['setMaintenance']>) => this.change('setMaintenance', ...a);
  confirmRebooted = (...a: Parameters<CoordinatorApi['confirmRebooted']>) => this.change('confirmRebooted', ...a);
  setGlobalMaintenance = (...a: Parameters<CoordinatorApi['setGlobalMaintenance']>) =>
    this.change('setGlobalMaintenance', ...a);
  defineVm = (...a: Parameters<CoordinatorApi['defineVm']>) => this.change('defineVm', ...a);
  startVm = (...a: Parameters<CoordinatorApi['startVm']>) => this.change('startVm', ...a);
  stopVm = (...a: Parameters<CoordinatorApi['stopVm']>) => this.change('stopVm', ...a);
  removeVm = (...a: Parameters<CoordinatorApi['removeVm']>) => this.change('removeVm', ...a);
}

/** A host as the API lists it, with what a test changes. */
export function hostViewOf(id: string, over: Partial<HostView> = {}): HostView {
  return {
    id,
    address: `192.0.2.${id.replace(/\D/g, '') || '1'}`,
    state: 'Up',
    maintenance: false,
    vms: 0,
    ha: null,
    ...over,
  };
}

export const haOf = (over: Partial<NonNullable<HostView['ha']>> = {}): NonNullable<HostView['ha']> => ({
  configured: true,
  active: true,
  score: 3400,
  localMaintenance: false,
  globalMaintenance: false,
  ...over,
});
