/** Bounded waiting, shared by tests and bench/ (no vitest here). */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Lets a wait look again as soon as something changed (a frame arrived, a socket closed) instead of at its next
 * poll: the owner of the data calls wake(), the waits pass it to waitFor / pollUntil.
 */
export class Wakeup {
  private readonly sleepers = new Set<() => void>();

  wake(): void {
    for (const s of [...this.sleepers]) s();
  }

  /** Resolves after `ms` or at the next wake(), whichever comes first. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/** The polling loop of waitFor and pollUntil: the first truthy probe, or `{ last }` when the time is up. */
async function poll<T>(
  probe: () => T | Promise<T>,
  timeoutMs: number,
  everyMs: number,
  wakeup?: Wakeup,
): Promise<{ value: Truthy<T> } | { last: T }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return { value: v as Truthy<T> };
    const left = deadline - performance.now();
    if (left <= 0) return { last: v };
    const ms = Math.min(everyMs, left);
    await (wakeup ? wakeup.sleep(ms) : sleep(ms));
  }
}

/**
 * Polls `probe` every `everyMs` until it returns a truthy value and returns that; fails closed: throws after
 * `timeoutMs`, naming `what` and the last value seen. Bounded in time; every round waits (`everyMs`, or until a
 * `wakeup`), so never a busy loop.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs: number,
  everyMs = 200,
  wakeup?: Wakeup,
): Promise<Truthy<T>> {
  const r = await poll(probe, timeoutMs, everyMs, wakeup);
  if ('value' in r) return r.value;
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${r.last === undefined ? '' : `; last: ${shown(r.last)}`}`,
  );
}

function shown(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** Polls `pred` like waitFor, but never throws: whether it held within `timeoutMs` (for `expect(...).toBe(true)`). */
export async function pollUntil(
  pred: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs: number,
  wakeup?: Wakeup,
): Promise<boolean> {
  return 'value' in (await poll(pred, timeoutMs, everyMs, wakeup));
}

/** Whether `p` settles within `ms` (its outcome is not looked at). */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = p.then(
    () => true,
    () => true,
  );
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}
