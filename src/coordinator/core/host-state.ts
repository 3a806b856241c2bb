/**
 * The host state the leader persists (`write-host`), so that a new leader restores it: maintenance, whether a host
 * added at runtime has answered yet, and an activation whose hosted-engine local maintenance is not cleared yet.
 */
import type { Ctx } from './context.js';
import type { HostState, HostStateRecord } from './types.js';

export function hostStateOf(c: Ctx, h: HostState): HostStateRecord {
  const op = c.st.haOps[h.spec.id];
  return {
    maintenance: h.spec.maintenance ?? false,
    ...(h.everUp ? {} : { answered: false }),
    ...(op && !op.on && !op.done ? { haOffPending: true } : {}),
  };
}

/** Queues the write of `h`'s state as it is now (call after changing what `hostStateOf` reads). */
export function persistHost(c: Ctx, h: HostState): void {
  c.actions.push({ kind: 'write-host', host: h.spec.id, state: hostStateOf(c, h) });
}
