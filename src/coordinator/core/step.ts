/**
 * The coordinator's pure core (docs/coordinator.md): `step(state, observations, cfg)` → state + actions + audit
 * events + log lines. The clock is `observations.now`; nothing here does I/O or reads a clock. The driver
 * (coordinator.ts) runs the actions through the CoordinatorEnv and feeds their results into a later step.
 */
import {
  agentGroups,
  chooseProxy,
  chooseWitnesses,
  combinePower,
  dueStarts,
  isFlapping,
  partitionView,
  placeVm,
  vmFate,
  type PartitionView,
} from './cluster.js';
import { graceSeconds, type CoordinatorConfig } from './config.js';
import type {
  Action,
  AuditEvent,
  Command,
  FenceFlow,
  FenceIntent,
  GuardName,
  HostSpec,
  HostState,
  HostStatus,
  Observations,
  Poll,
  Result,
  VmRecord,
} from './types.js';
import { NOT_IN_RECOVERY } from './types.js';

export interface CoreState {
  /** The fencing token this state acts under; null: not leader (no actions at all). */
  epoch: number | null;
  leaderSince: number | null;
  /** When every host (not in maintenance) had answered or failed one poll under this leadership. */
  roundDoneAt: number | null;
  polledSinceLeader: string[];
  hosts: Record<string, HostState>;
  vms: Record<string, VmRecord>;
  seq: number;
  scan: { id: number; at: number } | null;
}

export interface StepResult {
  state: CoreState;
  actions: Action[];
  audit: AuditEvent[];
  log: string[];
}

/** What a leader finds in the store when it starts: the inventory, the fence intents, the VM records. */
export interface StoreSnapshot {
  hosts: readonly HostSpec[];
  intents: Readonly<Record<string, FenceIntent>>;
  vms: readonly VmRecord[];
}

function freshHost(spec: HostSpec, now: number): HostState {
  return {
    spec,
    status: 'Up',
    since: now,
    lastOk: now,
    failures: 0,
    lastError: null,
    vmCount: 0,
    freeMemMiB: 0,
    vmsSeen: [],
    polledAt: null,
    flow: null,
    returns: [],
    lastPowerAt: null,
    rebootUntil: null,
    guard: null,
    recheckAt: null,
    manual: null,
  };
}

export function newFlow(step: FenceFlow['step'], now: number): FenceFlow {
  return {
    step,
    startedAt: now,
    awaiting: null,
    nextAt: now,
    proxy: null,
    tried: [],
    proxyErrors: 0,
    group: 0,
    tries: 0,
    unknowns: 0,
    offSent: false,
    offSeenAt: null,
    witnessesPending: [],
    witnessReached: false,
  };
}

/**
 * The state a new leader starts from: every host Up with its grace counted from now (the leader knows no
 * better), except hosts with a fence intent, which continue where the intent says: `off-sent` re-polls the
 * power status, `off-confirmed` recovers VMs (idempotently: the VM records say what is done), `failed` waits for
 * a person. A VM recorded `starting` is looked for on every host before anything is started again.
 */
export function restoreState(snap: StoreSnapshot, now: number): CoreState {
  const hosts: Record<string, HostState> = {};
  for (const spec of snap.hosts) {
    const h = freshHost(spec, now);
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
    hosts[spec.id] = h;
  }
  const vms: Record<string, VmRecord> = {};
  for (const vm of snap.vms) vms[vm.id] = { ...vm, startSentAt: null };
  return { epoch: null, leaderSince: null, roundDoneAt: null, polledSinceLeader: [], hosts, vms, seq: 0, scan: null };
}

interface Ctx {
  now: number;
  cfg: CoordinatorConfig;
  st: CoreState;
  actions: Action[];
  audit: AuditEvent[];
  log: string[];
  partition: PartitionView;
}

const FENCE_STATES: readonly HostStatus[] = [
  'NonResponsive',
  'SoftFencing',
  'HardFencing',
  'FenceSkipped',
  'FenceFailed',
  'AwaitingManualConfirm',
];

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
  recoverVms(c);
  return { state: st, actions: c.actions, audit: c.audit, log: c.log };
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs

function command(c: Ctx, cmd: Command): void {
  if (cmd.kind !== 'confirm-rebooted' && cmd.kind !== 'maintenance') {
    // TODO(issue 13): inventory commands (host-add/remove, vm-define/start/stop/remove).
    c.audit.push({ at: c.now, kind: 'command', alert: false, text: `${cmd.kind} by ${cmd.by}: not implemented yet` });
    return;
  }
  const h = c.st.hosts[cmd.host];
  if (!h) {
    c.audit.push({ at: c.now, kind: 'command', alert: false, text: `${cmd.kind} ${cmd.host}: no such host` });
    return;
  }
  switch (cmd.kind) {
    case 'confirm-rebooted': {
      const ok: readonly HostStatus[] = ['NonResponsive', 'FenceFailed', 'AwaitingManualConfirm'];
      if (!ok.includes(h.status)) {
        c.audit.push({
          at: c.now,
          host: h.spec.id,
          kind: 'command',
          alert: false,
          text: `confirm-rebooted by ${cmd.by} refused: host is ${h.status} (only NonResponsive or a failed fence)`,
        });
        c.log.push(`${h.spec.id}: confirm-rebooted by ${cmd.by} refused (${h.status})`);
        return;
      }
      h.manual = { by: cmd.by, at: c.now };
      c.audit.push({
        at: c.now,
        host: h.spec.id,
        kind: 'command',
        alert: true,
        text: `${cmd.by} confirmed the host was rebooted: its VMs are restarted elsewhere (if it still runs them, they run twice)`,
      });
      c.actions.push({
        kind: 'write-fence',
        host: h.spec.id,
        intent: { phase: 'off-confirmed', startedAt: h.flow?.startedAt ?? c.now, manual: h.manual },
      });
      h.flow = null;
      go(c, h, 'PowerOffConfirmed', `confirmed rebooted by ${cmd.by}`);
      return;
    }
    case 'maintenance':
      if (cmd.on) {
        if (FENCE_STATES.includes(h.status) && h.status !== 'NonResponsive') {
          c.log.push(`${h.spec.id}: maintenance refused during ${h.status}`);
          return;
        }
        h.flow = null;
        go(c, h, 'Maintenance', 'maintenance on');
      } else if (h.status === 'Maintenance') {
        h.lastOk = c.now;
        h.failures = 0;
        go(c, h, 'Up', 'maintenance off');
      }
      return;
  }
}

function takePoll(c: Ctx, poll: Poll): void {
  const h = c.st.hosts[poll.host];
  if (!h) return;
  if (!c.st.polledSinceLeader.includes(h.spec.id)) c.st.polledSinceLeader.push(h.spec.id);
  h.polledAt = c.now;
  if (poll.ok) {
    h.lastOk = c.now;
    h.failures = 0;
    h.lastError = null;
    if (poll.vms) {
      const present = poll.vms.filter((v) => v.status !== 'Down');
      h.vmsSeen = present.map((v) => v.id);
      h.vmCount = present.length;
      if (poll.freeMemMiB !== undefined) h.freeMemMiB = poll.freeMemMiB;
      reconcileVms(c, h, present);
      missingVms(c, h, present);
    }
    return;
  }
  // A fenced host's reboot window: its network errors are expected (oVirt's bug: fenced again while booting).
  if (h.rebootUntil !== null && c.now < h.rebootUntil) return;
  h.failures += 1;
  h.lastError = poll.error ?? 'timeout';
}

const RUNNING = ['Up', 'Powering up', 'WaitForLaunch', 'Migration Source', 'Migration Destination'];

/** A host listed its VMs: confirm starts, adopt, or find stale copies of VMs that now run elsewhere. */
function reconcileVms(c: Ctx, h: HostState, present: readonly { id: string; status: string }[]): void {
  for (const seen of present) {
    const vm = c.st.vms[seen.id];
    if (!vm) continue;
    const running = RUNNING.includes(seen.status);
    if (vm.owner === h.spec.id) {
      if (running && vm.state !== 'running') {
        if (vm.state === 'starting') c.log.push(`${vm.id} Up on ${h.spec.id}`);
        settleRunning(c, vm, h.spec.id);
      }
      continue;
    }
    const owner = vm.owner ? c.st.hosts[vm.owner] : undefined;
    if (owner && (vm.state === 'running' || vm.state === 'starting') && owner.status === 'Up') {
      c.log.push(`${vm.id}: stale copy on ${h.spec.id} (it runs on ${owner.spec.id}): destroying it`);
      c.audit.push({
        at: c.now,
        host: h.spec.id,
        kind: 'vm',
        alert: true,
        text: `${vm.id} found on ${h.spec.id} while it runs on ${owner.spec.id}: stale copy destroyed`,
      });
      c.actions.push({ kind: 'destroy-vm', id: ++c.st.seq, vm: vm.id, host: h.spec.id });
    } else if (running && vm.restart && vm.state !== 'starting') {
      c.log.push(`${vm.id} found running on ${h.spec.id}: adopted, not started again`);
      settleRunning(c, vm, h.spec.id);
    }
  }
}

/**
 * VMs the store says run on this host but which it no longer lists (it rebooted, or they crashed): the host itself
 * says they are not there, so they are Down and recovered like a fenced host's (no second copy can exist).
 */
function missingVms(c: Ctx, h: HostState, present: readonly { id: string }[]): void {
  for (const vm of Object.values(c.st.vms)) {
    if (vm.owner !== h.spec.id || (vm.state !== 'running' && vm.state !== 'unknown')) continue;
    if (present.some((p) => p.id === vm.id)) continue;
    const fate = vmFate(vm, h.spec.cluster, c.cfg);
    vm.generation += 1;
    if (fate === 'restart') {
      queueForRestart(vm, h.spec.id, c.now);
      c.log.push(`${vm.id} no longer on ${h.spec.id}: Down; queued for restart`);
    } else {
      Object.assign(vm, { state: 'down', restart: false } satisfies Partial<VmRecord>);
      c.log.push(`${vm.id} no longer on ${h.spec.id}: Down`);
    }
    c.actions.push({ kind: 'write-vm', vm: { ...vm } });
  }
}

/** Down, off any host, and queued for a restart now: it came from `from`, a fenced or vanished host's copy. */
function queueForRestart(vm: VmRecord, from: string, now: number): void {
  Object.assign(vm, {
    owner: null,
    state: 'down',
    restart: true,
    from,
    queuedAt: now,
    attempts: 0,
    nextTryAt: now,
    startSentAt: null,
  } satisfies Partial<VmRecord>);
}

function settleRunning(c: Ctx, vm: VmRecord, host: string): void {
  Object.assign(vm, { owner: host, state: 'running', everUp: true, ...NOT_IN_RECOVERY } satisfies Partial<VmRecord>);
  c.actions.push({ kind: 'write-vm', vm: { ...vm } });
}

function takeResult(c: Ctx, r: Result): void {
  switch (r.kind) {
    case 'probe':
    case 'power':
    case 'ssh-restart': {
      const h = c.st.hosts[r.host];
      if (!h?.flow) return;
      if (r.kind === 'probe') {
        if (h.flow.step !== 'witness' || !h.flow.witnessesPending.includes(r.via)) return;
        h.flow.witnessesPending = h.flow.witnessesPending.filter((w) => w !== r.via);
        if (r.reached === true) h.flow.witnessReached = true;
        else if (r.reached === false) {
          h.flow.tries += 1;
          c.log.push(`${h.spec.id}: witness ${r.via} cannot reach it either`);
        } else c.log.push(`${h.spec.id}: witness ${r.via} did not answer`);
        return;
      }
      if (h.flow.awaiting !== r.id) return;
      h.flow.awaiting = null;
      if (r.kind === 'ssh-restart') sshDone(c, h, r.ok, r.detail);
      else powerDone(c, h, r.op, r.proxy, combinePower(r.power));
      return;
    }
    case 'scan':
      if (c.st.scan?.id === r.id) scanDone(c, r.lists);
      return;
    case 'start-vm': {
      const vm = c.st.vms[r.vm];
      if (!vm || vm.state !== 'starting' || vm.owner !== r.host) return;
      if (!r.ok) failedStart(c, vm, `VM.create on ${r.host} failed${r.detail ? `: ${r.detail}` : ''}`);
      return;
    }
    case 'destroy-vm':
      c.log.push(`${r.vm}: stale copy on ${r.host} ${r.ok ? 'destroyed' : 'not destroyed (will retry)'}`);
      return;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The per-host state machine

function go(c: Ctx, h: HostState, to: HostStatus, why: string): void {
  if (h.status === to) return;
  c.log.push(`${h.spec.id} ${h.status} -> ${to}: ${why}`);
  h.status = to;
  h.since = c.now;
}

function guardAudit(c: Ctx, h: HostState, guard: GuardName, text: string): void {
  if (h.guard === guard) return;
  h.guard = guard;
  c.log.push(`${h.spec.id}: guard ${guard}: ${text}`);
  c.audit.push({ at: c.now, host: h.spec.id, kind: 'guard', guard, alert: true, text });
}

/** Guards that stop any fence (soft or hard) from starting, in order; undefined: none holds. */
function clusterGuard(c: Ctx, h: HostState): { guard: GuardName; text: string } | undefined {
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
function powerGuard(c: Ctx, h: HostState): { guard: GuardName; text: string } | undefined {
  const g = clusterGuard(c, h);
  if (g) return g;
  if (isFlapping(h, c.now, c.cfg) && h.lastPowerAt !== null && c.now < h.lastPowerAt + c.cfg.flapQuiet)
    return {
      guard: 'flapping',
      text: `flapped more than ${c.cfg.flapCount} times in ${c.cfg.flapWindow} s: ${c.cfg.flapQuiet} s between power actions`,
    };
  return undefined;
}

function backUp(c: Ctx, h: HostState, why: string): void {
  const inFence = FENCE_STATES.includes(h.status) || ['Rebooting', 'Down'].includes(h.status);
  if (inFence) h.returns = [...h.returns.filter((t) => c.now - t <= c.cfg.flapWindow), c.now];
  if (h.flow !== null || inFence) c.actions.push({ kind: 'write-fence', host: h.spec.id, intent: null });
  h.flow = null;
  h.guard = null;
  h.recheckAt = null;
  h.manual = null;
  h.rebootUntil = null;
  go(c, h, 'Up', why);
}

function skip(c: Ctx, h: HostState, guard: GuardName, text: string, recheckIn: number): void {
  guardAudit(c, h, guard, text);
  h.recheckAt = c.now + recheckIn;
  go(c, h, 'FenceSkipped', guard);
}

function fail(c: Ctx, h: HostState, why: string): void {
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

const answered = (h: HostState) => h.failures === 0 && h.lastOk > h.since;

function advanceHost(c: Ctx, h: HostState): void {
  const { now, cfg } = c;
  switch (h.status) {
    case 'Maintenance':
      return;
    case 'Up':
      if (h.failures > 0) go(c, h, 'Suspect', `no answer (${h.lastError ?? 'error'})`);
      return;
    case 'Suspect': {
      if (h.failures === 0) return go(c, h, 'Up', 'answers again');
      const grace = graceSeconds(cfg, h.vmCount);
      // Both, never either: oVirt once fenced after 20 s because one of the two sufficed.
      if (h.failures >= cfg.failuresForNonResponsive && now - h.lastOk >= grace) {
        go(
          c,
          h,
          'NonResponsive',
          `${h.failures} failed polls and ${now - h.lastOk} s without an answer (grace ${grace} s)`,
        );
        for (const vm of Object.values(c.st.vms))
          if (vm.owner === h.spec.id && (vm.state === 'running' || vm.state === 'starting')) {
            vm.state = 'unknown';
            c.actions.push({ kind: 'write-vm', vm: { ...vm } });
          }
        treat(c, h);
      }
      return;
    }
    case 'NonResponsive':
      if (h.failures === 0) return backUp(c, h, 'answers again');
      return treat(c, h);
    case 'FenceSkipped':
      if (h.failures === 0) return backUp(c, h, 'answers again');
      if (h.recheckAt !== null && now < h.recheckAt) return;
      if (h.flow?.step === 'policy-wait') {
        const g = clusterGuard(c, h);
        if (g) return skip(c, h, g.guard, g.text, 0);
        h.flow.step = 'status';
        h.flow.nextAt = now;
        h.guard = null;
        go(c, h, 'HardFencing', 'looking at the storage lease again');
        return hardFence(c, h);
      }
      return treat(c, h);
    case 'SoftFencing':
      if (h.failures === 0 && h.flow?.step !== 'soft-wait') return backUp(c, h, 'answers again: no fence needed');
      return softFence(c, h);
    case 'HardFencing':
      // A host that answers is not off, whatever its BMC says: abort (after an `off`, the BMC may be another box's).
      if (h.failures === 0 && h.lastOk > (h.flow?.startedAt ?? now)) {
        guardAudit(
          c,
          h,
          'answers',
          h.flow?.offSent
            ? "the host answers after `off` was sent: its BMC may not be this host's; nothing is restarted"
            : 'the host answers during its fence: aborted before any power action',
        );
        return backUp(c, h, 'answers during the fence: aborted');
      }
      return hardFence(c, h);
    case 'PowerOffConfirmed':
      return recoverHost(c, h);
    case 'RecoveringVMs': {
      // Back before its VMs are all placed (a short reboot): it is Up again and may take some of them.
      if (answered(h)) return backUp(c, h, 'answers again');
      const left = Object.values(c.st.vms).some((v) => v.from === h.spec.id && v.restart);
      if (left) return;
      if (h.rebootUntil !== null && now < h.rebootUntil)
        return go(c, h, 'Rebooting', 'VMs recovered; host powering on');
      return go(c, h, 'Down', 'VMs recovered');
    }
    case 'Rebooting':
      if (answered(h)) return backUp(c, h, 'answers after its reboot');
      if (h.rebootUntil === null || now >= h.rebootUntil) go(c, h, 'Down', `not back within ${cfg.rebootWindow} s`);
      return;
    case 'Down':
      if (answered(h)) return backUp(c, h, 'answers again');
      return;
    case 'FenceFailed':
      return go(c, h, 'AwaitingManualConfirm', 'waiting for the host or confirm-rebooted');
    case 'AwaitingManualConfirm':
      if (h.failures === 0) return backUp(c, h, 'answers again');
      return;
  }
}

/** The treatment of a NonResponsive host: cluster guards, then witnesses, then the intent, then soft fence. */
function treat(c: Ctx, h: HostState): void {
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
      h.flow = null;
      return skip(c, h, 'no-witness', 'no peer could say whether it reaches the host', c.cfg.recheckAfter);
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
  h.flow = { ...newFlow('witness', c.now), witnessesPending: witnesses, nextAt: c.now + c.cfg.pingInterval * 2 };
  for (const via of witnesses) c.actions.push({ kind: 'probe', id: ++c.st.seq, host: h.spec.id, via });
}

function statusCall(c: Ctx, h: HostState, flow: FenceFlow): void {
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

function softFence(c: Ctx, h: HostState): void {
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

function sshDone(c: Ctx, h: HostState, ok: boolean, detail?: string): void {
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

function hardFence(c: Ctx, h: HostState): void {
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

function powerDone(c: Ctx, h: HostState, op: 'status' | 'off' | 'on', proxy: string, power: string): void {
  const flow = h.flow;
  if (!flow) return;
  const { now, cfg } = c;
  if (h.status === 'SoftFencing') {
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

/** OFF is confirmed (or a person confirmed the reboot): every VM of the host is Down; some come back. */
function recoverHost(c: Ctx, h: HostState): void {
  const { now, cfg } = c;
  for (const vm of Object.values(c.st.vms)) {
    if (vm.owner !== h.spec.id) continue;
    const fate = vmFate(vm, h.spec.cluster, cfg);
    const wasState = vm.state;
    vm.owner = null;
    vm.generation += 1;
    switch (fate) {
      case 'restart':
        queueForRestart(vm, h.spec.id, now);
        c.log.push(`${vm.id} Down (host fenced); queued for restart (priority ${vm.priority})`);
        break;
      case 'rehome': {
        const target = placeVm(Object.values(c.st.hosts), { ...vm, memMiB: 0 }, {}, [h.spec.id]);
        vm.owner = target;
        vm.state = wasState;
        c.log.push(`${vm.id} ${wasState}: re-homed to ${target ?? 'no host'}, not started`);
        break;
      }
      case 'mark-down':
        vm.state = 'down';
        vm.restart = false;
        c.log.push(`${vm.id} Down (host fenced); not restarted`);
        break;
    }
    c.actions.push({ kind: 'write-vm', vm: { ...vm } });
  }
  if (cfg.powerOnAfterFence && h.manual === null && h.spec.agents.length > 0) {
    const g = powerGuard(c, h);
    const proxy = chooseProxy(Object.values(c.st.hosts), h, h.flow?.tried ?? [], now, cfg);
    if (g) guardAudit(c, h, g.guard, `${g.text} (power on skipped)`);
    else if (proxy !== null) {
      c.log.push(`${h.spec.id}: power on through ${proxy}`);
      h.lastPowerAt = now;
      h.rebootUntil = now + cfg.rebootWindow;
      c.actions.push({
        kind: 'power',
        id: ++c.st.seq,
        host: h.spec.id,
        proxy,
        op: 'on',
        agents: agentGroups(h.spec.agents)[0] ?? [],
      });
    }
  }
  h.flow = null;
  go(c, h, 'RecoveringVMs', 'VMs marked Down');
}

// ---------------------------------------------------------------------------------------------------------------
// VM recovery

function failedStart(c: Ctx, vm: VmRecord, why: string): void {
  vm.attempts += 1;
  const wait = vm.attempts <= c.cfg.retryShortCount ? c.cfg.retryShort : c.cfg.retryLong;
  c.log.push(`${vm.id}: ${why}; try ${vm.attempts + 1} in ${wait} s`);
  Object.assign(vm, {
    state: 'down',
    owner: null,
    startSentAt: null,
    nextTryAt: c.now + wait,
  } satisfies Partial<VmRecord>);
  c.actions.push({ kind: 'write-vm', vm: { ...vm } });
}

function recoverVms(c: Ctx): void {
  const { now, cfg, st } = c;
  for (const vm of Object.values(st.vms))
    if (vm.state === 'starting' && vm.startSentAt !== null && now - vm.startSentAt >= cfg.startConfirmWithin)
      failedStart(c, vm, `not Up within ${cfg.startConfirmWithin} s`);
  if (st.scan !== null && now - st.scan.at > cfg.statsInterval) st.scan = null; // lost: ask again
  // Placement needs every host's free memory: the first stats of this leadership come in the first poll round.
  if (st.scan !== null || st.roundDoneAt === null) return;
  if (dueStarts(Object.values(st.vms), now, cfg).length === 0) return;
  const hosts = Object.values(st.hosts)
    .filter((h) => h.status === 'Up')
    .map((h) => h.spec.id)
    .sort();
  st.scan = { id: ++st.seq, at: now };
  c.actions.push({ kind: 'scan', id: st.scan.id, hosts });
}

/**
 * Every reachable host listed its VMs: a queued VM found running anywhere is adopted; one recorded `starting` on
 * a host that did not answer is left alone (it may run there); the others are placed and started, by priority.
 */
function scanDone(c: Ctx, lists: Record<string, { id: string; status: string }[] | null>): void {
  const { now, cfg, st } = c;
  st.scan = null;
  const placed: Record<string, { count: number; memMiB: number }> = {};
  for (const vm of dueStarts(Object.values(st.vms), now, cfg)) {
    const where = Object.entries(lists).find(([, l]) => l?.some((v) => v.id === vm.id && RUNNING.includes(v.status)));
    if (where) {
      c.log.push(`${vm.id} found running on ${where[0]}: adopted, not started again`);
      settleRunning(c, vm, where[0]);
      continue;
    }
    if (vm.owner !== null && lists[vm.owner] === null) {
      c.log.push(`${vm.id}: ${vm.owner} did not list its VMs: not starting it elsewhere yet`);
      continue;
    }
    const hosts = Object.values(st.hosts).filter((h) => lists[h.spec.id] !== undefined && lists[h.spec.id] !== null);
    // The host it comes from is excluded while it is not Up (placeVm takes Up hosts only); once back, it may.
    const target = placeVm(hosts, vm, placed);
    if (target === null) {
      // Not a failed start: nothing was tried. Looked at again every short interval, without escalating to the
      // long one (a host coming back, or another VM leaving, makes room).
      if (vm.nextTryAt !== null && vm.attempts === 0 && vm.queuedAt === vm.nextTryAt)
        c.log.push(`${vm.id}: no Up host with ${vm.memMiB} MiB free; looking again every ${cfg.retryShort} s`);
      vm.nextTryAt = now + cfg.retryShort;
      continue;
    }
    const p = (placed[target] ??= { count: 0, memMiB: 0 });
    p.count += 1;
    p.memMiB += vm.memMiB;
    Object.assign(vm, {
      owner: target,
      state: 'starting',
      startSentAt: now,
      generation: vm.generation + 1,
    } satisfies Partial<VmRecord>);
    c.log.push(`${vm.id}: VM.create on ${target} (priority ${vm.priority}, try ${vm.attempts + 1})`);
    c.actions.push({ kind: 'write-vm', vm: { ...vm } });
    c.actions.push({ kind: 'start-vm', id: ++st.seq, vm: vm.id, host: target });
  }
}
