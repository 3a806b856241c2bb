/** The guards that stop a fence from starting, or a power action from being sent (docs/coordinator.md, "Guards"). */
import { isFlapping } from './cluster.js';
import type { Ctx } from './context.js';
import type { GuardName, HostState } from './types.js';

/** Guards that stop any fence (soft or hard) from starting, in order; undefined: none holds. */
export function clusterGuard(c: Ctx, h: HostState): { guard: GuardName; text: string } | undefined {
  const { st, cfg, now } = c;
  if (cfg.fencingDisabled.includes(h.spec.cluster))
    return { guard: 'fencing-disabled', text: `fencing is disabled in cluster ${h.spec.cluster}` };
  if (st.leaderSince === null || now < st.leaderSince + cfg.leaderTtl || st.roundDoneAt === null)
    return { guard: 'new-leader', text: 'new leader: waiting one lease TTL and a full poll round' };
  if (c.partition.holds)
    return {
      guard: 'partition',
      text: `${c.partition.unreachable} of ${c.partition.counted} hosts that were Up are unreachable: the coordinator may be the one cut off`,
    };
  return undefined;
}

/** Guards that stop a power action (`off`, `on`) now. */
export function powerGuard(c: Ctx, h: HostState): { guard: GuardName; text: string } | undefined {
  const g = clusterGuard(c, h);
  if (g) return g;
  if (isFlapping(h, c.now, c.cfg) && h.lastPowerAt !== null && c.now < h.lastPowerAt + c.cfg.flapQuiet)
    return {
      guard: 'flapping',
      text: `flapped more than ${c.cfg.flapCount} times in ${c.cfg.flapWindow} s: ${c.cfg.flapQuiet} s between power actions`,
    };
  return undefined;
}
