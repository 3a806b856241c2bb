/** Upstream's score constants (its agent.conf [score] defaults); hosted-engine.conf sets only timings (conf.ts). */
export interface ScoreConfig {
  base: number;
  notUpToDateConfigPenalty: number;
  networkPenalty: number;
  bridgePenalty: number;
  cpuLoadPenalty: number;
  cpuLoadMin: number;
  cpuLoadMax: number;
  freeMemoryPenalty: number;
  engineRetryPenalty: number;
}

export interface HaConfig {
  score: ScoreConfig;
  /** Agent tick, seconds. */
  loopDelay: number;
  /** A remote host is alive if its timestamp changed within this many seconds of our clock. */
  hostAliveTimeout: number;
  /** History kept for liveness and the CPU average. */
  statsHistory: number;
  engineStartingTimeout: number;
  engineBadHealthTimeout: number;
  engineStopTimeout: number;
  engineMaybeAwayTimeout: number;
  vmUnexpectedShutdownTimeout: number;
  /** A running host yields to one this many points better, */
  restartThreshold: number;
  /**
   * once that lead has lasted this long (and two ticks). Longer than a network monitor round (5 probes of up to
   * 5 s): when every host loses the same network, each notices at its own time, and the first must not yield
   * to the others' scores from before they noticed. Upstream yields at the first reading.
   */
  leadHold: number;
  /** Failed starts allowed before the score drops to 0. */
  maxStartRetries: number;
  /** Failed starts are forgotten this long after the last one. */
  retryExpiration: number;
}

export const DEFAULT_SCORE: ScoreConfig = {
  base: 3400,
  notUpToDateConfigPenalty: 1000,
  networkPenalty: 1600,
  bridgePenalty: 600,
  cpuLoadPenalty: 1000,
  cpuLoadMin: 0.4,
  cpuLoadMax: 0.9,
  freeMemoryPenalty: 400,
  engineRetryPenalty: 50,
};

export const DEFAULT_CONFIG: HaConfig = {
  score: DEFAULT_SCORE,
  loopDelay: 10,
  hostAliveTimeout: 60,
  statsHistory: 900,
  engineStartingTimeout: 600,
  engineBadHealthTimeout: 300,
  engineStopTimeout: 300,
  engineMaybeAwayTimeout: 40,
  vmUnexpectedShutdownTimeout: 560,
  restartThreshold: 800,
  leadHold: 45,
  maxStartRetries: 3,
  retryExpiration: 600,
};
