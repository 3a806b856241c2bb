/**
 * The monitors that ask vdsmd (docs/hosted-engine.md, "The monitors"): `mgmt-bridge`, `mem-free` and `engine-health`.
 * Differences from upstream, on purpose: the bridge is null, not "up", when vdsmd cannot tell; the
 * liveliness check is an in-process HTTP GET instead of `hosted-engine --check-liveliness`.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { hostStatsResult } from '../../verbs/host/getStats.js';
import vmGetStats from '../../verbs/vm/getStats.js';
import type { vmStatsSchema } from '../../verbs/vm/schemas.js';
import { ExitReason, VmStatus } from '../../virt/vmstatus.js';
import { describeIssues } from '../schema-issues.js';
import type { EngineHealth, EngineVm } from '../types.js';
import { PeriodicMonitor, TIMED_OUT, within } from './periodic.js';
import type { VdsmCall } from './types.js';

/** vdsm's NoSuchVM error code ("Virtual machine does not exist"). */
export const NO_SUCH_VM = 1;
/** Default bound of one vdsmd call made by a monitor. */
export const RPC_TIMEOUT_MS = 10_000;
/** Bound of the engine health page GET (upstream LivelinessChecker.TIMEOUT). */
export const LIVELINESS_TIMEOUT_MS = 20_000;

export const REASON = {
  noVm: 'vm not running on this host',
  rpcFailed: 'failed to getVmStats',
  locked: 'Storage of VM is locked. Is another host already starting the VM?',
  migrated: 'VM migrated away successfully',
  badStatus: 'bad vm status',
  liveliness: 'failed liveliness check',
} as const;

/** The engine VM state remembered between rounds: never `unknown` (an RPC failure does not change it). */
export type KnownVm = Exclude<EngineVm, 'unknown'>;

export const ENGINE_UNKNOWN: EngineHealth = { vm: 'unknown', health: 'unknown', detail: 'unknown' };

interface CommonOptions {
  vdsm: VdsmCall;
  intervalMs: number;
  rpcTimeoutMs?: number;
  log?: Logger;
}

// ------------------------------------------------------------------------------------------------
// mgmt-bridge and mem-free

/**
 * A monitor of one figure from Host.getStats; null when vdsmd cannot say (or says what the verb's schema does
 * not allow). `part` is the slice of that schema the figure comes from: the rest of the answer is not judged.
 */
function hostStatsMonitor<P extends z.ZodType, T>(
  name: string,
  options: CommonOptions,
  part: P,
  pick: (stats: z.output<P>) => T,
): PeriodicMonitor<T | null> {
  return new PeriodicMonitor<T | null>({
    name,
    intervalMs: options.intervalMs,
    initial: null,
    log: options.log,
    onError: () => null,
    run: async () => {
      const parsed = part.safeParse(
        await options.vdsm('Host.getStats', {}, { timeoutMs: options.rpcTimeoutMs ?? RPC_TIMEOUT_MS }),
      );
      return parsed.success ? pick(parsed.data) : null;
    },
  });
}

/** `mgmt-bridge`: Host.getStats network[bridge].state is 'up'; false when absent or not up; null when vdsmd cannot say. */
export function createBridgeMonitor(options: CommonOptions & { bridge: string }): PeriodicMonitor<boolean | null> {
  return hostStatsMonitor(
    'mgmt-bridge',
    options,
    hostStatsResult.pick({ network: true }),
    (stats) => stats.network[options.bridge]?.state === 'up',
  );
}

/** `mem-free`: Host.getStats memFree (MiB); null when vdsmd cannot say. */
export function createMemFreeMonitor(options: CommonOptions): PeriodicMonitor<number | null> {
  return hostStatsMonitor('mem-free', options, hostStatsResult.pick({ memFree: true }), (stats) => stats.memFree);
}

// ------------------------------------------------------------------------------------------------
// engine-health: the decision table

/** One VM.getStats entry as the verb's schema parses it; the decision reads status, exitReason and exitMessage. */
export type VmStatsLike = Partial<z.output<typeof vmStatsSchema>> & { status: string };

/** Exit messages of a start that lost the race for the VM's storage lease to another host. */
export function isLockFailure(exitMessage: string): boolean {
  return (
    // libvirt's sanlock plugin: "Failed to acquire lock: <sanlock's reason>", whichever way the race was lost
    // (held by another host, -243, a paxos ballot lost to a concurrent acquirer, ...).
    exitMessage.includes('Failed to acquire lock: ') ||
    exitMessage.endsWith('Is another process using the image?') ||
    /Is another process using the image \[.*\]\?$/.test(exitMessage)
  );
}

/** NoSuchVM: the previous state stays, except that a VM we saw up has gone missing. */
export function engineHealthNoVm(previous: KnownVm): EngineHealth {
  return { vm: previous === 'up' ? 'down_missing' : previous, health: 'bad', detail: 'unknown', reason: REASON.noVm };
}

const UP_BUT_BAD: ReadonlySet<string> = new Set([
  VmStatus.Paused,
  VmStatus.WaitForLaunch,
  VmStatus.RestoringState,
  VmStatus.PoweringUp,
]);

/**
 * The decision for one VM.getStats entry given the previous state: a verdict, or 'check-liveliness' when the
 * VM runs and only the engine's health page can tell (see `engineHealthFromLiveliness`).
 */
export function engineHealthFromStats(previous: KnownVm, stats: VmStatsLike): EngineHealth | 'check-liveliness' {
  const { status } = stats;
  if (status === VmStatus.Down) {
    if (isLockFailure(stats.exitMessage ?? ''))
      return { vm: 'down', health: 'bad', detail: status, reason: REASON.locked };
    if (stats.exitReason === ExitReason.MigrationSucceeded)
      return { vm: 'down', health: 'bad', detail: status, reason: REASON.migrated };
  }
  if (status === VmStatus.Down || status === VmStatus.MigrationDestination) {
    return {
      vm: previous === 'down' ? 'down' : 'down_unexpected',
      health: 'bad',
      detail: status,
      reason: REASON.badStatus,
    };
  }
  if (UP_BUT_BAD.has(status)) return { vm: 'up', health: 'bad', detail: status, reason: REASON.badStatus };
  return 'check-liveliness';
}

export function engineHealthFromLiveliness(status: string, healthy: boolean): EngineHealth {
  return healthy
    ? { vm: 'up', health: 'good', detail: status }
    : { vm: 'up', health: 'bad', detail: status, reason: REASON.liveliness };
}

export interface LivelinessResult {
  healthy: boolean;
  /** HTTP status code, or the error's text. */
  detail: string;
}

/** GET of the engine's health page, bounded in wall time; healthy iff a 2xx answer whose body matches /DB Up/. */
export async function checkLiveliness(
  url: string,
  timeoutMs = LIVELINESS_TIMEOUT_MS,
  signal?: AbortSignal,
): Promise<LivelinessResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { healthy: false, detail: `bad health URL ${url}` };
  }
  const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
  if (!client) return { healthy: false, detail: `unsupported health URL ${url}` };
  const controller = new AbortController();
  const get = new Promise<LivelinessResult>((resolve) => {
    const req = client.get(target, { signal: controller.signal, headers: { accept: 'text/plain, */*' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < 65536) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({
          healthy: code >= 200 && code < 300 && /DB Up/.test(body),
          detail: `HTTP ${code}: ${body.slice(0, 200)}`,
        });
      });
      res.on('error', (err) => resolve({ healthy: false, detail: String(err) }));
    });
    req.on('error', (err) => resolve({ healthy: false, detail: String(err) }));
  });
  const result = await within(get, timeoutMs, signal);
  controller.abort();
  return result === TIMED_OUT ? { healthy: false, detail: `no answer within ${timeoutMs} ms` } : result;
}

export interface EngineHealthMonitorOptions extends CommonOptions {
  vmId: string;
  healthUrl: string;
  livelinessTimeoutMs?: number;
}

/** `engine-health`: VM.getStats of the engine VM every interval, judged by the table in docs/hosted-engine.md. */
export function createEngineHealthMonitor(options: EngineHealthMonitorOptions): PeriodicMonitor<EngineHealth> {
  let state: KnownVm = 'down';
  return new PeriodicMonitor<EngineHealth>({
    name: 'engine-health',
    intervalMs: options.intervalMs,
    initial: ENGINE_UNKNOWN,
    log: options.log,
    onError: () => ({ ...ENGINE_UNKNOWN, reason: REASON.rpcFailed }),
    run: async (signal) => {
      let stats: VmStatsLike;
      try {
        const list = await options.vdsm(
          'VM.getStats',
          { vmID: options.vmId },
          { timeoutMs: options.rpcTimeoutMs ?? RPC_TIMEOUT_MS },
        );
        const parsed = vmGetStats.result.safeParse(list);
        if (!parsed.success)
          throw new Error(
            `VM.getStats answered what its schema does not allow: ${describeIssues(parsed.error, '(answer)')}`,
          );
        stats = parsed.data[0]!;
      } catch (err) {
        if (rpcCode(err) === NO_SUCH_VM) {
          const verdict = engineHealthNoVm(state);
          state = verdict.vm as KnownVm;
          return verdict;
        }
        options.log?.warn({ err: String(err) }, 'engine-health: VM.getStats failed');
        return { ...ENGINE_UNKNOWN, reason: REASON.rpcFailed };
      }
      let verdict = engineHealthFromStats(state, stats);
      if (verdict === 'check-liveliness') {
        const live = await checkLiveliness(
          options.healthUrl,
          options.livelinessTimeoutMs ?? LIVELINESS_TIMEOUT_MS,
          signal,
        );
        if (!live.healthy)
          options.log?.warn({ url: options.healthUrl, detail: live.detail }, 'engine-health: bad health status');
        verdict = engineHealthFromLiveliness(stats.status, live.healthy);
      }
      state = verdict.vm as KnownVm;
      return verdict;
    },
  });
}

/** The JSON-RPC error code of a rejection (RemoteError.code), if it has one. */
function rpcCode(err: unknown): number | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}
