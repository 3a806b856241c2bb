/**
 * NonResponsive's treatment (cluster guards, witnesses, the intent) and the soft fence: power status first, then the
 * SSH restart of vdsmd, success when Host.ping2 answers again. No power action, VMs untouched.
 */
import { partitionView, chooseProxy, chooseWitnesses } from './cluster.js';
import { go, guardAudit, type Ctx } from './context.js';
import { clusterGuard } from './guards.js';
import { statusCall } from './hard-fence.js';
import { newFlow } from './state.js';
import { backUp, skip } from './transitions.js';
import type { HostState } from './types.js';

/** The treatment of a NonResponsive host: cluster guards, then witnesses, then the intent, then soft fence. */
export function treat(c: Ctx, h: HostState): void {
  const g = clusterGuard(c, h);
  if (g) {
    if (h.flow?.step === 'witness') h.flow = null; // its answers will be stale by the time the guard lifts
    return skip(c, h, g.guard, g.text, 0);
  }
  if (h.flow?.step === 'witness') {
    if (h.flow.witnessesPending.length > 0 && c.now < h.flow.nextAt) return;
    if (h.flow.witnessReached) {
      h.flow = null;
      return skip(
        c,
        h,
        'witness',
        'a peer still reaches its vdsm: the coordinator is cut off, not the host',
        c.cfg.recheckAfter,
      );
    }
    if (h.flow.tries === 0) {
      // Nobody could tell (a witness down or busy, or a real vdsm host without Host.probePeer). Below three hosts the
      // witness rule stands in for the partition guard, so it blocks; from three on the partition guard (checked
      // above) is what the engine relies on, and the fence goes on as the engine's would.
      if (partitionView(Object.values(c.st.hosts), c.cfg).witnessRule) {
        h.flow = null;
        return skip(c, h, 'no-witness', 'no peer could say whether it reaches the host', c.cfg.recheckAfter);
      }
      c.log.push(`${h.spec.id}: no witness could tell; the partition guard is clear with three hosts or more`);
    }
    // Claim: the intent, written under our epoch, is the one-flow-per-host lock.
    const flow = newFlow('soft-status', c.now);
    h.flow = flow;
    h.guard = null;
    c.actions.push({ kind: 'write-fence', host: h.spec.id, intent: { phase: 'fencing', startedAt: c.now } });
    go(c, h, 'SoftFencing', 'no witness reaches it');
    return softFence(c, h);
  }
  const witnesses = chooseWitnesses(Object.values(c.st.hosts), h, c.cfg);
  if (witnesses.length === 0)
    return skip(c, h, 'no-witness', 'no Up peer to ask whether it reaches the host', c.cfg.recheckAfter);
  const wait = Math.max(c.cfg.pingInterval * 2, c.cfg.witnessWaitMin);
  h.flow = { ...newFlow('witness', c.now), witnessesPending: witnesses, nextAt: c.now + wait };
  for (const via of witnesses) c.actions.push({ kind: 'probe', id: ++c.st.seq, host: h.spec.id, via });
}

export function softFence(c: Ctx, h: HostState): void {
  const flow = h.flow;
  if (!flow || flow.awaiting !== null) return;
  switch (flow.step) {
    case 'soft-status':
      if (h.spec.agents.length === 0) {
        flow.step = 'ssh';
        return softFence(c, h);
      }
      if (chooseProxy(Object.values(c.st.hosts), h, [], c.now, c.cfg) === null) {
        flow.step = 'ssh';
        return softFence(c, h);
      }
      return statusCall(c, h, flow);
    case 'ssh':
      c.log.push(`${h.spec.id}: soft fence: SSH restart of vdsmd`);
      flow.awaiting = ++c.st.seq;
      c.actions.push({ kind: 'ssh-restart', id: flow.awaiting, host: h.spec.id });
      return;
    case 'soft-wait':
      if (h.failures === 0 && h.lastOk > flow.startedAt) {
        c.log.push(`${h.spec.id}: soft fence worked: vdsmd answers (no power action)`);
        return backUp(c, h, 'soft fence');
      }
      if (c.now >= flow.nextAt) return toHard(c, h, `no answer within ${c.cfg.softFenceUpWithin} s of the SSH restart`);
      return;
    case 'witness':
    case 'status':
    case 'off':
    case 'confirm':
    case 'policy-wait':
    case 'quiet-wait':
      return;
  }
}

export function sshDone(c: Ctx, h: HostState, ok: boolean, detail?: string): void {
  const flow = h.flow;
  if (!flow || h.status !== 'SoftFencing') return;
  if (!ok) return toHard(c, h, `SSH restart failed${detail ? ` (${detail})` : ''}`);
  flow.step = 'soft-wait';
  flow.startedAt = c.now;
  flow.nextAt = c.now + c.cfg.softFenceUpWithin;
}

function toHard(c: Ctx, h: HostState, why: string): void {
  if (h.spec.agents.length === 0) {
    guardAudit(c, h, 'no-pm', 'no fence agent configured: it stays NonResponsive until it answers or confirm-rebooted');
    c.actions.push({
      kind: 'write-fence',
      host: h.spec.id,
      intent: { phase: 'failed', startedAt: h.flow?.startedAt ?? c.now },
    });
    h.flow = null;
    return go(c, h, 'AwaitingManualConfirm', `${why}; no power management`);
  }
  const startedAt = h.flow?.startedAt ?? c.now;
  h.flow = { ...newFlow('status', c.now), startedAt };
  go(c, h, 'HardFencing', why);
}

/** A power status read during the soft fence: OFF skips SSH; timeouts go straight to the hard fence. */
export function softStatusDone(c: Ctx, h: HostState, proxy: string, power: string): void {
  const flow = h.flow;
  if (!flow) return;
  const { now, cfg } = c;
  if (power === 'off') {
    c.log.push(`${h.spec.id}: power status OFF through ${proxy}: no SSH, confirming OFF`);
    h.flow = {
      ...newFlow('confirm', now),
      startedAt: flow.startedAt,
      offSeenAt: now,
      nextAt: now + cfg.offRecheckAfter,
    };
    return go(c, h, 'HardFencing', 'power is off');
  }
  if (power === 'error') c.log.push(`${h.spec.id}: power status through ${proxy} failed`);
  if (h.lastError === 'timeout') {
    toHard(c, h, 'timeouts and no witness reaches it: SSH would only wait');
    // The status just read ON: `off` next, through the same proxy.
    if (power === 'on' && h.flow) Object.assign(h.flow, { step: 'off', proxy });
    return;
  }
  flow.step = 'ssh';
  return softFence(c, h);
}
