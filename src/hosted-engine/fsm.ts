import type { HaConfig } from './config.js';
import {
  aliveHosts,
  bestEngine,
  bestScoreHost,
  enoughHistory,
  meanCpuLoad,
  remember,
  type Snapshot,
} from './liveness.js';
import { hostScore } from './score.js';
import type { StateName } from './states.js';
import type { ActionKind, EngineHealth, HostBlock, Observations } from './types.js';

/** All the agent carries from one tick to the next. Immutable: step() returns a new one. */
export interface AgentState {
  name: StateName;
  /** When the current timed state first stayed put (upstream's timeout_start_time); null when not timing. */
  timerStart: number | null;
  /** The action asked for and not yet answered. */
  pending: ActionKind | null;
  /** EngineStop asked for the graceful shutdown already. */
  stopRequested: boolean;
  /** Failed starts, and when the last one failed (same clock as `now`). */
  retries: number;
  retryTime: number | null;
  /** Since when a live host has led ours by the restart threshold while the engine runs here. */
  leadSince: number | null;
  /** Since when a live host has not known whether the engine VM runs there (its vdsmd is away). */
  unknownSince: number | null;
  history: readonly Snapshot[];
}

export const INITIAL_STATE: AgentState = {
  name: 'StartState',
  timerStart: null,
  pending: null,
  stopRequested: false,
  retries: 0,
  retryTime: null,
  leadSince: null,
  unknownSince: null,
  history: [],
};

export interface StepResult {
  state: AgentState;
  actions: ActionKind[];
  /** The score to publish with the new state. */
  score: number;
  scoreReasons: string[];
  /** false: tick again at once (upstream's NOWAIT). */
  wait: boolean;
  /** Live remote host ids, as this host judges them (published for clients). */
  alive: number[];
  /** Human-readable lines for the log: transitions and their reasons. */
  log: string[];
}

/** What a state decides: where to go, whether to wait, what to do, and why. */
interface Decision {
  to: StateName;
  wait: boolean;
  action?: ActionKind;
  why?: string;
  /** New value of AgentState.leadSince (unset: cleared). */
  leadSince?: number;
}

/** How long a live host that cannot tell whether the engine VM runs there holds back the others' starts. */
export const UNKNOWN_HOLD_SECS = 120;

const TIMEOUTS: Partial<Record<StateName, { secs: (c: HaConfig) => number; dest: StateName; wait: boolean }>> = {
  EngineStarting: { secs: (c) => c.engineStartingTimeout, dest: 'EngineStop', wait: true },
  EngineUpBadHealth: { secs: (c) => c.engineBadHealthTimeout, dest: 'EngineStop', wait: true },
  EngineMaybeAway: { secs: (c) => c.engineMaybeAwayTimeout, dest: 'EngineUnexpectedlyDown', wait: false },
  EngineUnexpectedlyDown: { secs: (c) => c.vmUnexpectedShutdownTimeout, dest: 'EngineDown', wait: true },
  EngineStop: { secs: (c) => c.engineStopTimeout, dest: 'EngineForceStop', wait: true },
};

interface Facts {
  obs: Observations;
  cfg: HaConfig;
  state: AgentState;
  alive: HostBlock[];
  best: { hostId: number; status: EngineHealth };
  localScore: number;
  enoughData: boolean;
  result: Observations['result'];
}

/**
 * One tick of the hosted-engine agent (docs/hosted-engine.md, "The state machine"): pure, with the clock in
 * `obs.now`. The caller runs the actions, publishes the score and state, and feeds the actions' outcome into the
 * next tick.
 */
export function step(prev: AgentState, obs: Observations, cfg: HaConfig): StepResult {
  const now = obs.now;
  // Failed starts expire on the same clock they were counted with (upstream mixes two and never counts).
  const expired = prev.retryTime !== null && now - prev.retryTime >= cfg.retryExpiration;
  let state: AgentState = { ...prev, retries: expired ? 0 : prev.retries, retryTime: expired ? null : prev.retryTime };
  state = { ...state, history: remember(state.history, now, obs.remote, obs.cpuLoad, cfg) };
  const alive = aliveHosts(state.history, now, obs.remote, cfg);
  const cpu = meanCpuLoad(state.history);
  // The score of the state we are in decides this tick (upstream caches it per state instance).
  const before = hostScore({ state: state.name, obs, cpuLoad: cpu, retries: state.retries }, cfg);
  // An action's outcome arrives one tick later; an outcome for anything else is stale.
  const result = obs.result && obs.result.kind === prev.pending ? obs.result : undefined;
  const facts: Facts = {
    obs,
    cfg,
    state,
    alive,
    best: bestEngine(obs.engine, alive),
    localScore: before.score,
    enoughData: enoughHistory(state.history, now, cfg),
    result,
  };

  const log: string[] = [];
  const hold = holdsOn(obs, alive);
  const decision = timedOut(state, obs, cfg, hold) ?? decide(facts);
  const unsure = alive.some((b) => b.engineStatus.vm === 'unknown');
  let next: AgentState = {
    ...state,
    pending: decision.action ?? null,
    leadSince: decision.leadSince ?? null,
    unknownSince: unsure ? (state.unknownSince ?? now) : null,
  };
  if (facts.result) next = applyResult(next, facts.result, now, log);

  if (decision.to !== state.name) {
    log.push(`${state.name} -> ${decision.to}${decision.why ? `: ${decision.why}` : ''}`);
    next = { ...next, name: decision.to, timerStart: null, stopRequested: false };
  } else if (TIMEOUTS[state.name] && next.timerStart === null) {
    next.timerStart = now;
  }
  // The bad-health count only runs while this host can reach its network or someone else could take over.
  if (next.name === 'EngineUpBadHealth' && hold) next.timerStart = now;
  if (decision.action === 'stop-vm') next.stopRequested = true;
  const after = hostScore({ state: next.name, obs, cpuLoad: cpu, retries: next.retries }, cfg);
  return {
    state: next,
    actions: decision.action ? [decision.action] : [],
    score: after.score,
    scoreReasons: after.reasons,
    wait: decision.wait,
    alive: alive.map((b) => b.hostId),
    log,
  };
}

/**
 * Unhealthy while this host cannot reach its network at all and no other live host scores above 0 (every
 * network is down): a restart anywhere would not help. The engine VM keeps running until the network is back.
 */
function holdsOn(obs: Observations, alive: readonly HostBlock[]): boolean {
  return (obs.network ?? 0) <= 0 && bestScoreHost(alive) === undefined;
}

function timedOut(state: AgentState, obs: Observations, cfg: HaConfig, hold: boolean): Decision | undefined {
  const t = TIMEOUTS[state.name];
  if (!t || state.timerStart === null || !(state.timerStart + t.secs(cfg) < obs.now)) return undefined;
  if (state.name === 'EngineUpBadHealth' && hold) return undefined;
  return { to: t.dest, wait: t.wait, why: `timeout of ${t.secs(cfg)} s in ${state.name}` };
}

/** Folds an action's outcome into the state (start failures are counted here). */
function applyResult(
  state: AgentState,
  result: NonNullable<Observations['result']>,
  now: number,
  log: string[],
): AgentState {
  if (result.leaseHeldBy !== undefined) return state;
  if (result.ok) return result.kind === 'start-vm' ? { ...state, retries: 0, retryTime: null } : state;
  log.push(`${result.kind} failed${result.detail ? `: ${result.detail}` : ''}`);
  return result.kind === 'start-vm' ? { ...state, retries: state.retries + 1, retryTime: now } : state;
}

const stay = (f: Facts, why?: string): Decision => ({ to: f.state.name, wait: true, why });
const go = (to: StateName, wait: boolean, why: string): Decision => ({ to, wait, why });

/** The guards upstream stacks on most states, in its order: global, unknown VM, local maintenance. */
function guards(f: Facts, { local = true } = {}): Decision | undefined {
  const { obs, state } = f;
  if (obs.globalMaintenance)
    return state.name === 'GlobalMaintenance' ? stay(f) : go('GlobalMaintenance', true, 'global maintenance');
  if (obs.engine.vm === 'unknown')
    return state.name === 'UnknownLocalVmState'
      ? stay(f)
      : go('UnknownLocalVmState', true, 'engine VM state unknown (vdsmd?)');
  if (local && obs.localMaintenance)
    return state.name === 'LocalMaintenance' ? stay(f) : go('LocalMaintenance', true, 'local maintenance');
  return undefined;
}

function decide(f: Facts): Decision {
  const { obs, state, best, cfg, alive, result } = f;
  const localVm = obs.engine.vm;
  switch (state.name) {
    case 'StartState':
      return go('ReinitializeFSM', false, 'agent started');
    case 'ReinitializeFSM':
      return (
        guards(f) ??
        (localVm === 'up'
          ? go('EngineStarting', false, 'engine VM runs here')
          : go('EngineDown', true, 'engine VM not here'))
      );
    case 'GlobalMaintenance':
      if (obs.globalMaintenance) return stay(f);
      if (obs.localMaintenance) return go('LocalMaintenance', true, 'local maintenance');
      return go('ReinitializeFSM', true, 'global maintenance ended');
    case 'LocalMaintenance':
      return obs.localMaintenance ? stay(f) : go('ReinitializeFSM', true, 'local maintenance ended');
    case 'UnknownLocalVmState':
      if (obs.globalMaintenance) return go('GlobalMaintenance', true, 'global maintenance');
      if (localVm === 'unknown') return stay(f);
      if (obs.localMaintenance) return go('LocalMaintenance', true, 'local maintenance');
      return go('ReinitializeFSM', false, 'engine VM state known again');
    case 'EngineDown': {
      const g = guards(f);
      if (g) return g;
      if (best.status.vm === 'up')
        return best.hostId === 0 ? go('EngineStarting', false, 'engine VM runs here') : stay(f);
      if (!f.enoughData) return stay(f, 'not enough data yet');
      // A live host whose vdsmd is away may still run the engine VM: give it time to come back rather than
      // race its lease (upstream starts at once and loses on the lock every tick).
      if (
        alive.some((b) => b.engineStatus.vm === 'unknown') &&
        obs.now - (state.unknownSince ?? obs.now) < UNKNOWN_HOLD_SECS
      )
        return stay(f);
      // A host that scores 0 is unfit to run the engine: it never starts it (upstream would).
      if (f.localScore <= 0) return stay(f);
      const rival = bestScoreHost(alive);
      if (!rival || rival.score <= f.localScore)
        return go(
          'EngineStart',
          false,
          `best score (${f.localScore}${rival ? ` vs host ${rival.hostId}: ${rival.score}` : ''})`,
        );
      return stay(f);
    }
    case 'EngineStart': {
      const g = guards(f);
      if (g) return g;
      // A lease still held by another host (say, one that died and sanlock does not yet call dead): back to
      // EngineDown to try again next tick, with no failed start counted against this host.
      if (result?.leaseHeldBy !== undefined)
        return go('EngineDown', true, `engine VM lease held by host ${result.leaseHeldBy}`);
      if (result)
        return result.ok
          ? go('EngineStarting', true, 'engine VM start requested')
          : go('EngineDown', true, 'engine VM start failed');
      return { to: 'EngineStart', wait: false, action: 'start-vm' };
    }
    case 'EngineStarting': {
      const g = guards(f);
      if (g) return g;
      if (localVm === 'up') return obs.engine.health === 'good' ? go('EngineUp', true, 'engine healthy') : stay(f);
      if (localVm === 'down') {
        // Down for the lease (another host won) is final at once; a plain "not here" may only be a reading
        // taken before our start: give the monitors two ticks before giving up on this start.
        const lockLost = /locked|lease/i.test(obs.engine.reason ?? '');
        const settled = state.timerStart !== null && obs.now - state.timerStart >= 2 * cfg.loopDelay;
        return lockLost || settled ? go('EngineForceStop', false, obs.engine.reason ?? 'engine VM down') : stay(f);
      }
      return go('EngineMaybeAway', false, `engine VM ${localVm}`);
    }
    case 'EngineUp':
    case 'EngineUpBadHealth': {
      const g = guards(f, { local: false });
      if (g) return g;
      if (localVm === 'down') return go('EngineMaybeAway', true, 'engine VM went down');
      if (localVm === 'down_unexpected')
        return go('EngineUnexpectedlyDown', true, obs.engine.reason ?? 'engine VM died');
      if (best.status.vm !== 'up') return go('EngineMaybeAway', false, 'engine VM not up anywhere');
      if (best.hostId !== 0) return go('EngineStop', true, `engine VM better on host ${best.hostId}`);
      // A better host must lead for `leadHold` (and two ticks): stale remote scores (say, every network failing
      // at once, the others not yet noticing) must not stop a running engine. Upstream stops at the first reading.
      const rival = bestScoreHost(alive);
      const lead =
        rival && rival.score >= f.localScore + cfg.restartThreshold ? (state.leadSince ?? obs.now) : undefined;
      if (rival && lead !== undefined && obs.now - lead >= Math.max(2 * cfg.loopDelay, cfg.leadHold))
        return go('EngineStop', true, `host ${rival.hostId} scores ${rival.score} vs ${f.localScore}`);
      const next: Decision =
        obs.engine.health !== 'good'
          ? state.name === 'EngineUpBadHealth'
            ? stay(f)
            : go('EngineUpBadHealth', true, obs.engine.reason ?? 'engine unhealthy')
          : state.name === 'EngineUp'
            ? stay(f)
            : go('EngineUp', true, 'engine healthy again');
      return { ...next, leadSince: lead };
    }
    case 'EngineMaybeAway': {
      const g = guards(f);
      if (g) return g;
      if (localVm === 'down') return go('EngineDown', true, 'engine VM left this host');
      if (localVm === 'down_unexpected')
        return go('EngineUnexpectedlyDown', true, obs.engine.reason ?? 'engine VM died');
      if (localVm === 'up') return go('EngineUp', true, 'engine VM back up here');
      if (best.status.vm === 'up' && best.hostId !== 0)
        return go('EngineDown', true, `engine VM up on host ${best.hostId}`);
      return stay(f);
    }
    case 'EngineUnexpectedlyDown': {
      const g = guards(f);
      if (g) return g;
      return best.status.vm === 'up' && best.hostId === 0 ? go('EngineUp', true, 'engine VM up here') : stay(f);
    }
    case 'EngineStop': {
      const g = guards(f);
      if (g) return g;
      if (localVm !== 'up') return go('EngineDown', true, 'engine VM stopped');
      if (obs.engine.detail === 'Paused') return go('EngineForceStop', false, 'engine VM paused');
      if (result && !result.ok) return go('ReinitializeFSM', true, 'graceful stop failed');
      if (!state.stopRequested) return { to: 'EngineStop', wait: true, action: 'stop-vm' };
      return stay(f);
    }
    case 'EngineForceStop': {
      const g = guards(f);
      if (g) return g;
      if (result)
        return result.ok
          ? go('EngineDown', true, 'engine VM powered off')
          : go('ReinitializeFSM', true, 'power-off failed');
      return { to: 'EngineForceStop', wait: false, action: 'poweroff-vm' };
    }
    case 'AgentStopped':
      return stay(f);
  }
}
