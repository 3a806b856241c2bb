/**
 * A signal that fires when `outer` does or when `ms` have passed, whichever is first; `done()` releases the timer
 * and the listener on `outer` (which lives as long as a leader term: AbortSignal.any would keep a dependant on it
 * for every call).
 */
export interface Bound {
  signal: AbortSignal;
  timedOut(): boolean;
  done(): void;
}

export function bound(outer: AbortSignal, ms: number): Bound {
  const c = new AbortController();
  let timedOut = false;
  const onAbort = () => c.abort(outer.reason);
  const timer = setTimeout(() => {
    timedOut = true;
    c.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError'));
  }, ms);
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  return {
    signal: c.signal,
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(timer);
      outer.removeEventListener('abort', onAbort);
    },
  };
}
