/**
 * Hard fencing through a proxy host: Host.fenceNode on the proxy with one fence agent of the target, as the engine
 * sends it, the password read from the secrets directory at the moment of the call (never kept, never logged).
 */
import type { Logger } from 'pino';
import type { Power } from '../core/types.js';
import type { FenceAgentRecord } from '../inventory/records.js';
import type { SecretFiles } from '../secrets.js';
import type { HostCaller } from './caller.js';

export type FenceOp = 'status' | 'off' | 'on';

export interface FenceCall {
  proxy: string;
  /** The host being fenced, for the log. */
  target: string;
  agent: FenceAgentRecord;
  op: FenceOp;
  /**
   * The target's host id in each storage domain's sanlock lockspace: sent as the engine's fencing policy
   * (storageDomainHostIdMap), so the proxy skips on/off while the target still renews its lease there.
   */
  storageHostIds?: Record<string, number>;
}

/** The engine's form of the agent's options: one key=value per line. */
export function optionLines(options: Record<string, string>): string {
  return Object.entries(options)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

/**
 * status: 'on' or 'off'; off/on: 'unknown' once the proxy reports the action initiated (the driver confirms by
 * status); 'skipped' when the proxy's fencing policy skipped it; 'error' for anything else, the reason logged.
 */
export async function fence(
  hosts: HostCaller,
  secrets: SecretFiles,
  log: Logger,
  f: FenceCall,
  ms: number,
  signal: AbortSignal,
): Promise<Power> {
  const about = { proxy: f.proxy, target: f.target, agent: f.agent.name, op: f.op };
  let answer: unknown;
  try {
    const password = f.agent.passwordRef ? (await secrets.read(f.agent.passwordRef)).text() : '';
    answer = await hosts.call(
      f.proxy,
      'Host.fenceNode',
      {
        addr: f.agent.address,
        port: f.agent.plug,
        agent: f.agent.type,
        username: f.agent.username,
        password,
        action: f.op,
        secure: f.agent.secure,
        options: optionLines(f.agent.options),
        ...(f.storageHostIds && Object.keys(f.storageHostIds).length > 0
          ? { policy: { storageDomainHostIdMap: f.storageHostIds } }
          : {}),
      },
      { timeoutMs: ms, signal },
    );
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    log.warn({ ...about, err: (err as Error).message }, 'fence call failed');
    return 'error';
  }
  const power = powerOf(f.op, answer);
  if (power === 'error') log.warn({ ...about, answer }, 'fence call answered what we cannot use');
  else log.info({ ...about, power }, 'fence call answered');
  return power;
}

function powerOf(op: FenceOp, answer: unknown): Power {
  const a = (answer ?? {}) as { power?: unknown; operationStatus?: unknown };
  if (a.operationStatus === 'skipped') return 'skipped';
  if (op === 'status') return a.power === 'on' || a.power === 'off' ? a.power : 'error';
  return a.operationStatus === 'initiated' ? 'unknown' : 'error';
}
