/**
 * The monotonic clock leadership counts on, injectable so that its logic runs on simulated time in tests. Wall
 * time (Date.now) jumps with NTP and never appears here.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (performance.now()). */
  now(): number;
  /** Calls `fn` after `ms`; answers a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` on `clock`, or at once when `signal` fires (never rejects). */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.setTimer(ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
