/**
 * The `network` monitor (docs/hosted-engine.md, "The monitors"): a round of probes towards the gateway, the result
 * being the fraction that succeeded. Unlike upstream every probe is bounded in wall time, no shell and no
 * dig/nc is involved, and the value is null (not 1.0) until the first round ends.
 */
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { PeriodicMonitor, sleep, TIMED_OUT, within } from './periodic.js';
import type { NetworkTest } from './types.js';

export interface NetworkMonitorOptions {
  test: NetworkTest;
  /**
   * ping: the address to ping; tcp: the host to connect to; dns: the name server, as `Resolver.setServers`
   * takes it (`192.0.2.1`, `192.0.2.1:5353`, `[2001:db8::1]:53`).
   */
  target: string;
  /** tcp: the port (required). */
  tcpPort?: number;
  intervalMs: number;
  /** Probes per round; default 5. */
  probes?: number;
  /** Pause between probes; default 500 ms. */
  probeDelayMs?: number;
  /** Bound of one probe; default 5000 ms (ping's -W is this in whole seconds). */
  probeTimeoutMs?: number;
  /** dns: the name queried (type A); default the root ".". Any answer from the server counts, as dig's exit code. */
  dnsName?: string;
  log?: Logger;
}

export function createNetworkMonitor(options: NetworkMonitorOptions): PeriodicMonitor<number | null> {
  const probes = options.probes ?? 5;
  const delay = options.probeDelayMs ?? 500;
  const timeout = options.probeTimeoutMs ?? 5000;
  const probe = probeFor(options, timeout);
  return new PeriodicMonitor<number | null>({
    name: 'network',
    intervalMs: options.intervalMs,
    initial: null,
    log: options.log,
    run: async (signal) => {
      if (options.test === 'none') return 1;
      let ok = 0;
      for (let i = 0; i < probes; i++) {
        // A last guard on top of each probe's own bound.
        if ((await within(probe(signal), timeout + 2000, signal)) === true) ok++;
        if (signal.aborted) break;
        if (i < probes - 1) await sleep(delay, signal);
      }
      return ok / probes;
    },
  });
}

function probeFor(options: NetworkMonitorOptions, timeoutMs: number): (signal: AbortSignal) => Promise<boolean> {
  switch (options.test) {
    case 'ping':
      return (signal) => pingProbe(options.target, timeoutMs, signal);
    case 'dns':
      return (signal) => dnsProbe(options.target, options.dnsName ?? '.', timeoutMs, signal);
    case 'tcp': {
      const port = options.tcpPort;
      if (port === undefined || !Number.isInteger(port) || port <= 0 || port > 65535) {
        throw new Error(`network test tcp needs a TCP port (tcpPort), got ${String(port)}`);
      }
      return (signal) => tcpProbe(options.target, port, timeoutMs, signal);
    }
    case 'none':
      return async () => true;
    default:
      throw new Error(`unknown network test ${String(options.test)}`);
  }
}

/** `ping -c 1 -W <s> [-6] <address>`, no shell; true iff ping exits 0. Killed when it overruns or on abort. */
export function pingProbe(address: string, timeoutMs = 5000, signal?: AbortSignal): Promise<boolean> {
  const args = ['-c', '1', '-W', String(Math.max(1, Math.ceil(timeoutMs / 1000)))];
  if (address.includes(':')) args.push('-6');
  args.push(address);
  return new Promise((resolve) => {
    try {
      execFile('ping', args, { timeout: timeoutMs + 1000, killSignal: 'SIGKILL', signal, windowsHide: true }, (err) =>
        resolve(!err),
      );
    } catch {
      resolve(false);
    }
  });
}

/** DNS failures that still prove the server answered (NXDOMAIN, NODATA, SERVFAIL, REFUSED, …). */
const ANSWERED = new Set(['ENODATA', 'ENOTFOUND', 'ESERVFAIL', 'EREFUSED', 'EFORMERR', 'ENOTIMP']);

/** One A query for `name` to `server` alone; true iff the server answered within the bound. */
export async function dnsProbe(server: string, name: string, timeoutMs = 5000, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  try {
    resolver.setServers([server]);
  } catch {
    return false;
  }
  const query = resolver.resolve4(name).then(
    () => true,
    (err: NodeJS.ErrnoException) => ANSWERED.has(err.code ?? ''),
  );
  const result = await within(query, timeoutMs, signal);
  if (result === TIMED_OUT) {
    resolver.cancel();
    return false;
  }
  return result;
}

/** A TCP connection to host:port; true iff it is established within the bound (then closed at once). */
export function tcpProbe(host: string, port: number, timeoutMs = 5000, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(ok);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
