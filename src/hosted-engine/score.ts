import type { HaConfig } from './config.js';
import type { StateName } from './states.js';
import type { Observations } from './types.js';

/** States that publish 0 whatever the host's health (upstream's forced-zero states). */
const ZERO_STATES: ReadonlySet<StateName> = new Set([
  'StartState',
  'ReinitializeFSM',
  'LocalMaintenance',
  'EngineUnexpectedlyDown',
  'AgentStopped',
]);
/** States where the engine VM already holds its memory here, or nothing will start: no free-memory penalty. */
const NO_MEMORY_PENALTY: ReadonlySet<StateName> = new Set(['EngineUp', 'EngineUpBadHealth', 'GlobalMaintenance']);

export interface ScoreInput {
  state: StateName;
  obs: Observations;
  /** Time-weighted non-engine CPU load over the history. */
  cpuLoad: number | null;
  /** Failed starts still counted (already expired by the caller's clock). */
  retries: number;
}

export interface ScoreResult {
  score: number;
  /** Why the score is what it is, e.g. ["network -640", "bridge down -600"]. */
  reasons: string[];
}

/**
 * The host score (docs/hosted-engine.md, "The score"): 3400 less upstream's penalties, floored at 0. Two deliberate
 * differences: more than `maxStartRetries` failed starts really give 0 (upstream's expiry compares clocks of two
 * kinds and clears the counter at once), and a host whose network probes all fail scores 0: it cannot serve the
 * engine.
 */
export function hostScore({ state, obs, cpuLoad, retries }: ScoreInput, cfg: HaConfig): ScoreResult {
  const s = cfg.score;
  if (ZERO_STATES.has(state)) return { score: 0, reasons: [`state ${state}`] };
  if (retries > cfg.maxStartRetries) return { score: 0, reasons: [`${retries} failed starts`] };
  const network = obs.network ?? 0;
  if (network <= 0) return { score: 0, reasons: ['network unreachable'] };
  const reasons: string[] = [];
  let score = s.base;
  const penalize = (points: number, why: string) => {
    if (points <= 0) return;
    score -= points;
    reasons.push(`${why} -${points}`);
  };
  if (!obs.configUpToDate) penalize(s.notUpToDateConfigPenalty, 'config not up to date');
  penalize(Math.trunc((1 - Math.min(1, network)) * s.networkPenalty), `network ${Math.round(network * 100)}%`);
  if (obs.bridgeUp !== true) penalize(s.bridgePenalty, obs.bridgeUp === null ? 'bridge unknown' : 'bridge down');
  if (cpuLoad !== null) {
    const share = (cpuLoad - s.cpuLoadMin) / (s.cpuLoadMax - s.cpuLoadMin);
    penalize(Math.trunc(Math.min(1, Math.max(0, share)) * s.cpuLoadPenalty), `cpu load ${cpuLoad.toFixed(2)}`);
  }
  if (!NO_MEMORY_PENALTY.has(state) && obs.memFreeMiB !== null && obs.memFreeMiB < obs.engineMemMiB) {
    penalize(s.freeMemoryPenalty, `free memory ${obs.memFreeMiB} MiB`);
  }
  penalize(retries * s.engineRetryPenalty, `${retries} failed starts`);
  return { score: Math.max(0, score), reasons };
}
