/** The ends every fence step shares: the host answers (back Up), a guard skips the fence, the fence fails. */
import { FENCE_STATES, go, guardAudit, type Ctx } from './context.js';
import type { GuardName, HostState } from './types.js';

export function backUp(c: Ctx, h: HostState, why: string): void {
  const inFence = FENCE_STATES.includes(h.status) || ['Rebooting', 'Down'].includes(h.status);
  if (inFence) h.returns = [...h.returns.filter((t) => c.now - t <= c.cfg.flapWindow), c.now];
  // After OFF was confirmed the intent stays until the host is back: a leader that found it would recover again.
  const afterOff = h.status === 'PowerOffConfirmed' || h.status === 'RecoveringVMs';
  if (h.flow !== null || inFence || afterOff) c.actions.push({ kind: 'write-fence', host: h.spec.id, intent: null });
  h.flow = null;
  h.guard = null;
  h.recheckAt = null;
  h.manual = null;
  h.rebootUntil = null;
  go(c, h, 'Up', why);
}

export function skip(c: Ctx, h: HostState, guard: GuardName, text: string, recheckIn: number): void {
  guardAudit(c, h, guard, text);
  h.recheckAt = c.now + recheckIn;
  go(c, h, 'FenceSkipped', guard);
}

export function fail(c: Ctx, h: HostState, why: string): void {
  c.audit.push({
    at: c.now,
    host: h.spec.id,
    kind: 'alert',
    alert: true,
    text: `fence failed: ${why}; its VMs stay Unknown until the host answers or a person confirms it rebooted`,
  });
  c.actions.push({
    kind: 'write-fence',
    host: h.spec.id,
    intent: { phase: 'failed', startedAt: h.flow?.startedAt ?? c.now },
  });
  h.flow = null;
  go(c, h, 'FenceFailed', why);
}
