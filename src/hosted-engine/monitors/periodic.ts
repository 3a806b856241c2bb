/**
 * The common engine of the broker's monitors (docs/hosted-engine.md, "The monitors"): one round at a time, the next
 * one `intervalMs` after the previous one started (at once when a round overran), every timer unref'd.
 * `stop()` aborts the round in flight (its AbortSignal fires) and waits for it, bounded.
 */
import type { Logger } from 'pino';
import type { Monitor } from './types.js';

export interface PeriodicOptions<T> {
  name: string;
  intervalMs: number;
  /** What `last()` answers before the first round completes. */
  initial: T;
  /** One round. The signal fires when the monitor stops; the round should then end promptly. */
  run: (signal: AbortSignal) => Promise<T>;
  /** What `last()` becomes when a round throws; default: the previous value stays. */
  onError?: (err: unknown, previous: T) => T;
  /** How long `stop()` waits for an aborted round; default 2 s. */
  stopGraceMs?: number;
  log?: Logger;
}

export class PeriodicMonitor<T> implements Monitor<T> {
  readonly name: string;
  /** Completed rounds (thrown ones included). */
  rounds = 0;
  private value: T;
  private timer: NodeJS.Timeout | undefined;
  private controller: AbortController | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly watchers: ((value: T, previous: T) => void)[] = [];

  constructor(private readonly options: PeriodicOptions<T>) {
    this.name = options.name;
    this.value = options.initial;
  }

  start(): void {
    if (this.controller) return;
    this.controller = new AbortController();
    this.round(this.controller);
  }

  last(): T {
    return this.value;
  }

  /** Calls `listener` with the new and the previous value whenever a round sets one (the broker's metrics). */
  watch(listener: (value: T, previous: T) => void): void {
    this.watchers.push(listener);
  }

  async stop(): Promise<void> {
    const controller = this.controller;
    if (!controller) return;
    this.controller = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    controller.abort();
    if (this.inFlight) await boundedWait(this.inFlight, this.options.stopGraceMs ?? 2000);
  }

  private round(controller: AbortController): void {
    const startedAt = performance.now();
    const run = async () => {
      try {
        const value = await this.options.run(controller.signal);
        if (!controller.signal.aborted) this.set(value);
      } catch (err) {
        if (controller.signal.aborted) return;
        this.options.log?.warn({ monitor: this.name, err: String(err) }, 'monitor round failed');
        if (this.options.onError) this.set(this.options.onError(err, this.value));
      } finally {
        this.rounds++;
      }
    };
    const done = run().finally(() => {
      if (this.inFlight === done) this.inFlight = undefined;
      if (controller.signal.aborted || this.controller !== controller) return;
      const wait = Math.max(0, this.options.intervalMs - (performance.now() - startedAt));
      this.timer = setTimeout(() => this.round(controller), wait);
      this.timer.unref();
    });
    this.inFlight = done;
  }

  private set(value: T): void {
    if (this.options.log && JSON.stringify(value) !== JSON.stringify(this.value)) {
      this.options.log.info({ monitor: this.name, value }, 'monitor reading changed');
    }
    const previous = this.value;
    this.value = value;
    for (const watcher of this.watchers) watcher(value, previous);
  }
}

/** Resolves when `p` settles or after `ms`, whichever comes first; never rejects. */
export async function boundedWait(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.then(
      () => {},
      () => {},
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

export const TIMED_OUT: unique symbol = Symbol('timed out');

/** `p`'s value, or TIMED_OUT after `ms` or when `signal` fires (`p` keeps running; the caller cleans up). */
export async function within<T>(p: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), ms);
        timer.unref();
        onAbort = () => resolve(TIMED_OUT);
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Sleeps `ms` (unref'd); rejects with the signal's reason when it fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
