/** Calls that ask one host about another, or about its own HA: the witness probe and HA local maintenance. */
import type { Logger } from 'pino';
import type { HostCaller } from './caller.js';

/** Extra time the witness's answer may take beyond its own probe bound. */
const PROBE_SLACK_MS = 2000;

/**
 * Host.probePeer on `via` towards `target`'s vdsmd: whether `via` gets a Host.ping2 answer from it within
 * `probeMs`; null when `via` itself does not answer (or has no such verb: a real vdsm).
 */
export async function probe(
  hosts: HostCaller,
  log: Logger,
  via: string,
  target: string,
  probeMs: number,
  signal: AbortSignal,
): Promise<boolean | null> {
  const addr = hosts.address(target);
  if (!addr) return null;
  try {
    const r = (await hosts.call(
      via,
      'Host.probePeer',
      { address: addr.address, port: addr.port, timeoutMs: probeMs },
      { timeoutMs: probeMs + PROBE_SLACK_MS, signal },
    )) as { reached?: unknown; detail?: unknown } | null;
    if (typeof r?.reached !== 'boolean') return null;
    log.info({ via, target, reached: r.reached, detail: String(r.detail ?? '') }, 'witness probe');
    return r.reached;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    log.info({ via, target, err: (err as Error).message }, 'witness probe: the witness did not answer');
    return null;
  }
}

/** Host.setHaMaintenanceMode(LOCAL, on); true when the host says Done. */
export async function setHaMaintenance(
  hosts: HostCaller,
  log: Logger,
  host: string,
  on: boolean,
  ms: number,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    const r = (await hosts.call(
      host,
      'Host.setHaMaintenanceMode',
      { mode: 'LOCAL', enabled: on },
      { timeoutMs: ms, signal },
    )) as { code?: unknown } | null;
    return r?.code === 0;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    log.warn({ host, on, err: (err as Error).message }, 'HA local maintenance could not be set');
    return false;
  }
}
