/**
 * The coordinator's pure core (docs/coordinator.md): `step(state, observations, cfg)` → state + actions + audit
 * events + log lines. The clock is `observations.now`; nothing here does I/O or reads a clock. The driver
 * (coordinator.ts) runs the actions through the CoordinatorEnv and feeds their results into a later step.
 * One file per job: inputs (commands.ts, polls.ts, results.ts), the per-host machine (host-machine.ts,
 * detection.ts, soft-fence.ts, hard-fence.ts), VM recovery (vm-recovery.ts, vm-records.ts), VM shutdowns and
 * hosted-engine maintenance (maintenance.ts).
 */
import { partitionView } from './cluster.js';
import { command } from './commands.js';
import type { CoordinatorConfig } from './config.js';
import type { Ctx } from './context.js';
import { advanceHost } from './host-machine.js';
import { maintain, newHaOp } from './maintenance.js';
import { takePoll } from './polls.js';
import { takeResult } from './results.js';
import { freshHost, newFlow, type CoreState, type StepResult, type StoreSnapshot } from './state.js';
import type { HostState, Observations, VmRecord } from './types.js';
import { recoverVms } from './vm-recovery.js';

export { newFlow, type CoreState, type StepResult, type StoreSnapshot } from './state.js';

/**
 * The state a new leader starts from: every host Up with its grace counted from now (the leader knows no
 * better), except hosts with a fence intent, which continue where the intent says: `off-sent` re-polls the
 * power status, `off-confirmed` recovers VMs (idempotently: the VM records say what is done), `failed` waits for
 * a person. A host in maintenance stays there (intent or not) and gets its hosted-engine local maintenance set
 * unless its stats already say so; an activated host whose local maintenance was not cleared yet gets it cleared
 * (unless its stats already say so); a host added at runtime that never answered stays out of fencing until it
 * does. A VM recorded `starting` is looked for on every host before anything is started again.
 */
export function restoreState(snap: StoreSnapshot, now: number): CoreState {
  const hosts: Record<string, HostState> = {};
  const haOps: CoreState['haOps'] = {};
  for (const spec of snap.hosts) {
    const h = freshHost(spec, now);
    hosts[spec.id] = h;
    // A host added at runtime that never answered is not taken for one in service (it is not fenced).
    if (spec.answered === false) h.everUp = false;
    if (spec.haOffPending && !spec.maintenance) haOps[spec.id] = newHaOp(false, null, now, true);
    if (spec.maintenance) {
      h.status = 'Maintenance';
      haOps[spec.id] = newHaOp(true, null, now, true);
      continue;
    }
    const intent = snap.intents[spec.id];
    if (intent) {
      // Not heard from since the intent was written: an answer from now on is news (and aborts a flow before OFF).
      h.failures = 1;
      h.lastError = 'timeout';
      h.lastOk = intent.startedAt;
    }
    if (intent?.phase === 'off-sent') {
      h.status = 'HardFencing';
      h.flow = { ...newFlow('confirm', now), startedAt: intent.startedAt, offSent: true };
    } else if (intent?.phase === 'off-confirmed') {
      h.status = 'PowerOffConfirmed';
      h.manual = intent.manual ?? null;
    } else if (intent?.phase === 'failed') {
      h.status = 'AwaitingManualConfirm';
    }
  }
  const vms: Record<string, VmRecord> = {};
  for (const vm of snap.vms) vms[vm.id] = { ...vm, startSentAt: null };
  return {
    epoch: null,
    leaderSince: null,
    roundDoneAt: null,
    polledSinceLeader: [],
    hosts,
    vms,
    seq: 0,
    scan: null,
    stops: {},
    haOps,
  };
}

export function step(prev: CoreState, obs: Observations, cfg: CoordinatorConfig): StepResult {
  const st: CoreState = structuredClone(prev);
  const now = obs.now;
  const c: Ctx = { now, cfg, st, actions: [], audit: [], log: [], partition: partitionView([], cfg) };
  if (obs.leader === null) {
    if (prev.epoch !== null) c.log.push('not leader any more: no actions');
    st.epoch = null;
    return { state: st, actions: [], audit: c.audit, log: c.log };
  }
  if (st.epoch !== obs.leader.epoch) {
    st.epoch = obs.leader.epoch;
    st.leaderSince = obs.leader.since;
    st.roundDoneAt = null;
    st.polledSinceLeader = [];
    c.log.push(`leader with epoch ${obs.leader.epoch}: no fencing before a full poll round and ${cfg.leaderTtl} s`);
  }
  for (const cmd of obs.commands) command(c, cmd);
  for (const poll of obs.polls) takePoll(c, poll);
  const hosts = Object.values(st.hosts);
  if (
    st.roundDoneAt === null &&
    hosts.every((h) => h.status === 'Maintenance' || st.polledSinceLeader.includes(h.spec.id))
  )
    st.roundDoneAt = now;
  // Results may lead to a power action at once: the guard must see this tick's polls already.
  c.partition = partitionView(Object.values(st.hosts), cfg);
  for (const r of obs.results) takeResult(c, r);
  c.partition = partitionView(Object.values(st.hosts), cfg);
  for (const id of Object.keys(st.hosts).sort()) advanceHost(c, st.hosts[id]!);
  maintain(c);
  recoverVms(c);
  return { state: st, actions: c.actions, audit: c.audit, log: c.log };
}
