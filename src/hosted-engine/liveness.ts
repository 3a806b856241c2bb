import type { HaConfig } from './config.js';
import type { EngineHealth, HostBlock } from './types.js';

/** What one tick remembers: when, the remote timestamps seen, and the non-engine CPU load. */
export interface Snapshot {
  at: number;
  hostTs: Readonly<Record<number, number>>;
  cpuLoad: number | null;
}

/** Adds this tick's snapshot (newest first) and drops what is older than the stats history. */
export function remember(
  history: readonly Snapshot[],
  now: number,
  remote: readonly HostBlock[],
  cpuLoad: number | null,
  cfg: HaConfig,
): Snapshot[] {
  const hostTs: Record<number, number> = {};
  for (const b of remote) hostTs[b.hostId] = b.hostTs;
  const kept = history.filter((s) => s.at >= now - cfg.statsHistory && s.at < now);
  return [{ at: now, hostTs, cpuLoad }, ...kept];
}

/** History covers the alive window: before that, nobody counts as alive and nobody may start the VM. */
export function enoughHistory(history: readonly Snapshot[], now: number, cfg: HaConfig): boolean {
  const oldest = history[history.length - 1];
  return oldest !== undefined && now - oldest.at >= cfg.hostAliveTimeout;
}

/**
 * Remote hosts whose timestamp moved within the alive window, judged only against what we saw ourselves
 * (their clock is never compared with ours), as upstream: the newest snapshot at least the window old.
 */
export function aliveHosts(
  history: readonly Snapshot[],
  now: number,
  remote: readonly HostBlock[],
  cfg: HaConfig,
): HostBlock[] {
  const reference = history.find((s) => s.at <= now - cfg.hostAliveTimeout);
  if (!reference) return [];
  return remote.filter((b) => !b.stopped && reference.hostTs[b.hostId] !== b.hostTs);
}

/** upstream's engine_status_score: unknown 0, down 1, paused 2, up but unhealthy 3, up and healthy 4. */
export function engineStatusScore(e: EngineHealth): number {
  if (e.vm === 'unknown') return 0;
  if (e.vm !== 'up') return 1;
  if (e.detail === 'Paused') return 2;
  return e.health === 'good' ? 4 : 3;
}

/** The best engine status among us and the live hosts; we win ties. `hostId` 0 means this host. */
export function bestEngine(local: EngineHealth, alive: readonly HostBlock[]): { hostId: number; status: EngineHealth } {
  let best = { hostId: 0, status: local };
  for (const b of alive)
    if (engineStatusScore(b.engineStatus) > engineStatusScore(best.status))
      best = { hostId: b.hostId, status: b.engineStatus };
  return best;
}

/** The live remote host with the highest score, if that score is above 0. */
export function bestScoreHost(alive: readonly HostBlock[]): HostBlock | undefined {
  let best: HostBlock | undefined;
  for (const b of alive) if (b.score > 0 && (!best || b.score > best.score)) best = b;
  return best;
}

/** Time-weighted (trapezoid) mean of the CPU load over the history; null without any reading. */
export function meanCpuLoad(history: readonly Snapshot[]): number | null {
  const points = history.filter((s) => s.cpuLoad !== null) as (Snapshot & { cpuLoad: number })[];
  if (points.length === 0) return null;
  if (points.length === 1) return points[0]!.cpuLoad;
  let area = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    area += ((a.cpuLoad + b.cpuLoad) / 2) * (a.at - b.at);
  }
  const span = points[0]!.at - points[points.length - 1]!.at;
  return span > 0 ? area / span : points[0]!.cpuLoad;
}
