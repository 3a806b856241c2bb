/**
 * The hard fence through a proxy: status, `off` (intent `off-sent` first), status until OFF is confirmed; another
 * proxy once on error, then the next agent group, then the fence fails.
 */
import { agentGroups, chooseProxy } from './cluster.js';
import { go, guardAudit, type Ctx } from './context.js';
import { powerGuard } from './guards.js';
import { fail, skip } from './transitions.js';
import type { FenceFlow, HostState } from './types.js';

export function statusCall(c: Ctx, h: HostState, flow: FenceFlow): void {
  const groups = agentGroups(h.spec.agents);
  const proxy = flow.proxy ?? chooseProxy(Object.values(c.st.hosts), h, flow.tried, c.now, c.cfg);
  if (proxy === null) return fail(c, h, 'no Up host to act as proxy');
  flow.proxy = proxy;
  flow.awaiting = ++c.st.seq;
  c.actions.push({
    kind: 'power',
    id: flow.awaiting,
    host: h.spec.id,
    proxy,
    op: 'status',
    agents: groups[flow.group] ?? [],
  });
}

export function hardFence(c: Ctx, h: HostState): void {
  const flow = h.flow;
  if (!flow || flow.awaiting !== null || c.now < flow.nextAt) return;
  switch (flow.step) {
    case 'status':
    case 'confirm':
      return statusCall(c, h, flow);
    case 'off':
    case 'quiet-wait': {
      const g = powerGuard(c, h);
      if (g) {
        guardAudit(c, h, g.guard, g.text);
        flow.step = 'quiet-wait';
        return;
      }
      flow.step = 'off';
      const proxy = flow.proxy ?? chooseProxy(Object.values(c.st.hosts), h, flow.tried, c.now, c.cfg);
      if (proxy === null) return fail(c, h, 'no Up host to act as proxy');
      flow.proxy = proxy;
      c.actions.push({
        kind: 'write-fence',
        host: h.spec.id,
        intent: { phase: 'off-sent', startedAt: flow.startedAt },
      });
      flow.awaiting = ++c.st.seq;
      flow.offSent = true;
      h.lastPowerAt = c.now;
      c.log.push(`${h.spec.id}: power off through ${proxy}`);
      c.actions.push({
        kind: 'power',
        id: flow.awaiting,
        host: h.spec.id,
        proxy,
        op: 'off',
        agents: agentGroups(h.spec.agents)[flow.group] ?? [],
      });
      return;
    }
    case 'witness':
    case 'soft-status':
    case 'ssh':
    case 'soft-wait':
    case 'policy-wait':
      return;
  }
}

/** An error through this proxy: another proxy once, then the next agent group, then the fence fails. */
function proxyError(c: Ctx, h: HostState, flow: FenceFlow, what: string): void {
  c.log.push(`${h.spec.id}: ${what} through ${flow.proxy ?? '?'} failed`);
  if (flow.proxy) flow.tried.push(flow.proxy);
  flow.proxyErrors += 1;
  const other = chooseProxy(Object.values(c.st.hosts), h, flow.tried, c.now, c.cfg);
  if (flow.proxyErrors <= 1 && other !== null) {
    flow.proxy = other;
    return;
  }
  if (flow.group + 1 < agentGroups(h.spec.agents).length && !flow.offSent) {
    flow.group += 1;
    flow.proxyErrors = 0;
    flow.tried = [];
    flow.proxy = null;
    flow.step = 'status';
    return;
  }
  fail(c, h, `${what} failed through every proxy`);
}

/** A power result during the hard fence (a status, or the answer to `off`). */
export function hardPowerDone(c: Ctx, h: HostState, op: 'status' | 'off' | 'on', proxy: string, power: string): void {
  const flow = h.flow;
  if (!flow) return;
  const { now, cfg } = c;
  if (h.status !== 'HardFencing') return;
  if (op === 'off') {
    if (power === 'skipped') {
      flow.offSent = false;
      flow.step = 'policy-wait';
      flow.proxy = null;
      c.actions.push({ kind: 'write-fence', host: h.spec.id, intent: { phase: 'fencing', startedAt: flow.startedAt } });
      return skip(
        c,
        h,
        'policy',
        'the host still holds its storage lease (fencing policy): not powered off',
        cfg.recheckAfter,
      );
    }
    if (power === 'error') {
      flow.offSent = false;
      proxyError(c, h, flow, 'power off');
      return;
    }
    flow.step = 'confirm';
    flow.tries = 0;
    flow.nextAt = now + cfg.statusPollInterval;
    return;
  }
  // status (first look, or confirming OFF)
  if (power === 'error' || power === 'skipped') return proxyError(c, h, flow, 'power status');
  if (flow.step === 'status') {
    if (power === 'off') {
      flow.step = 'confirm';
      flow.offSeenAt = now;
      flow.nextAt = now + cfg.offRecheckAfter;
      return;
    }
    flow.step = 'off';
    return hardFence(c, h);
  }
  // confirm
  if (power === 'off' && (flow.offSent || flow.offSeenAt !== null)) {
    c.log.push(`${h.spec.id}: power OFF confirmed through ${proxy}`);
    c.actions.push({
      kind: 'write-fence',
      host: h.spec.id,
      intent: { phase: 'off-confirmed', startedAt: flow.startedAt },
    });
    h.lastPowerAt = flow.offSent ? h.lastPowerAt : now;
    return go(c, h, 'PowerOffConfirmed', flow.offSent ? 'BMC confirms OFF' : 'BMC says OFF twice');
  }
  if (power === 'on' && !flow.offSent) {
    // OFF once, then ON: the BMC cannot be believed without our own `off`.
    flow.step = 'off';
    flow.offSeenAt = null;
    return hardFence(c, h);
  }
  if (power === 'unknown') flow.unknowns += 1;
  flow.tries += 1;
  if (flow.unknowns >= cfg.unknownTolerance) return fail(c, h, `power status UNKNOWN ${flow.unknowns} times`);
  if (flow.tries >= cfg.statusPollTries) return fail(c, h, `not OFF after ${flow.tries} status polls`);
  flow.nextAt = now + cfg.statusPollInterval;
}
