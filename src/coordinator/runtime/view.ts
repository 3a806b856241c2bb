/**
 * What the leader publishes of its in-memory state, so that every replica (and the CLI through any of them) can
 * say how each host is: its state, since when (wall clock), its hosted-engine HA block. One etcd key,
 * `<prefix>view`, written by the leader under its epoch whenever it changed; nothing in it decides anything.
 */
import { z } from 'zod';
import type { CoreState } from '../core/step.js';
import { HOST_VIEW_STATES } from '../core/types.js';

export const hostViewState = z.strictObject({
  state: z.enum(HOST_VIEW_STATES),
  /** Wall-clock ms of the last state change. */
  since: z.number(),
  ha: z
    .strictObject({
      configured: z.boolean(),
      active: z.boolean(),
      score: z.number(),
      localMaintenance: z.boolean(),
      globalMaintenance: z.boolean(),
    })
    .nullable(),
});

export const leaderView = z.strictObject({
  replica: z.string(),
  epoch: z.number().int(),
  /** Wall-clock ms when it was written. */
  at: z.number(),
  hosts: z.record(z.string(), hostViewState),
});
export type LeaderView = z.output<typeof leaderView>;

/** The view of a core state; `toWall` turns the core's monotonic seconds into wall-clock ms. */
export function viewOf(
  st: CoreState,
  replica: string,
  epoch: number,
  toWall: (monotonicSeconds: number) => number,
): Omit<LeaderView, 'at'> {
  const hosts: LeaderView['hosts'] = {};
  for (const [id, h] of Object.entries(st.hosts)) {
    // Up in the core means "no failure seen yet": for a host that never answered, say it is being connected.
    const state = h.status === 'Up' && !h.everUp ? 'Initializing' : h.status;
    hosts[id] = { state, since: Math.round(toWall(h.since)), ha: h.ha };
  }
  return { replica, epoch, hosts };
}
