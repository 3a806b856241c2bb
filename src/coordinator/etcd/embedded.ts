/**
 * Starting etcd members as child processes on loopback: the coordinator's embedded default (one member with its
 * data directory, when no endpoints are configured) and, through the same parts, the test clusters.
 *
 * The `etcd` binary comes from PATH (Debian's `etcd-server`). A member's child has only PATH in its environment
 * (no stray ETCD_* variable changes its flags), listens on 127.0.0.1 only (a test cluster may give a member another
 * address), and is stopped by its pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { healthResponse } from './schemas.js';

const HOST = '127.0.0.1';

/** The absolute path of `etcd` on `searchPath` (PATH by default), or undefined. */
export function findEtcd(searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'etcd');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export class EtcdNotFoundError extends Error {
  override readonly name = 'EtcdNotFoundError';
  constructor() {
    super(
      "etcd is not installed: no executable 'etcd' on PATH. Install Debian's etcd-server (scripts/setup.sh does), " +
        'or configure the endpoints of an etcd cluster',
    );
  }
}

/** `count` loopback TCP ports that were free a moment ago (all bound at once, so they differ, then closed). */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, HOST, resolve);
      });
      servers.push(srv);
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export interface MemberSpec {
  name: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** Its address (default 127.0.0.1; a test cluster in network namespaces gives each member its own). */
  host?: string;
}

export interface ClusterSpec {
  /** Every member, this one included. */
  members: MemberSpec[];
  /** Distinguishes this cluster from any other on the machine. */
  token: string;
}

export const clientUrl = (m: Pick<MemberSpec, 'clientPort' | 'host'>) => `http://${m.host ?? HOST}:${m.clientPort}`;
const peerUrl = (m: Pick<MemberSpec, 'peerPort' | 'host'>) => `http://${m.host ?? HOST}:${m.peerPort}`;

/** etcd's flags for `member` of `cluster` (3.4 names). */
export function etcdArgs(member: MemberSpec, cluster: ClusterSpec): string[] {
  return [
    '--name',
    member.name,
    '--data-dir',
    member.dataDir,
    '--listen-client-urls',
    clientUrl(member),
    '--advertise-client-urls',
    clientUrl(member),
    '--listen-peer-urls',
    peerUrl(member),
    '--initial-advertise-peer-urls',
    peerUrl(member),
    '--initial-cluster',
    cluster.members.map((m) => `${m.name}=${peerUrl(m)}`).join(','),
    '--initial-cluster-state',
    'new',
    '--initial-cluster-token',
    cluster.token,
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
  ];
}

export interface EtcdMember {
  readonly name: string;
  readonly pid: number;
  readonly clientUrl: string;
  readonly child: ChildProcess;
  /** The last lines etcd wrote on stderr (for an error message). */
  stderrTail(): string;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs` (default 5 s); resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts one member's process (not waiting for it to serve: see waitHealthy); `wrap` is an argv prefix that runs it
 * elsewhere and execs it (a test cluster's `ip netns exec NS`).
 */
export function spawnMember(binary: string, member: MemberSpec, cluster: ClusterSpec, wrap: string[] = []): EtcdMember {
  mkdirSync(member.dataDir, { recursive: true, mode: 0o700 });
  const argv = [...wrap.slice(1), binary, ...etcdArgs(member, cluster)];
  const child = spawn(wrap[0] ?? binary, wrap.length ? argv : etcdArgs(member, cluster), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  return {
    name: member.name,
    pid: child.pid ?? -1,
    clientUrl: clientUrl(member),
    child,
    exited,
    stderrTail: () => tail.trim().split('\n').slice(-5).join('\n'),
    async stop(graceMs = 5000) {
      if (!running()) return exited;
      child.kill('SIGCONT'); // a frozen member would never act on SIGTERM
      child.kill('SIGTERM');
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until `member` answers `/health` with true (it has a leader), or fails with etcd's last words. */
export async function waitHealthy(member: EtcdMember, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  let exited = false;
  void member.exited.then(() => (exited = true));
  let last = 'no answer';
  while (performance.now() < until) {
    if (exited)
      throw new Error(`etcd member ${member.name} exited while starting: ${member.stderrTail() || 'no output'}`);
    try {
      const res = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
      const body = healthResponse.safeParse(await res.json());
      if (body.success && body.data.health === 'true') return;
      last = body.success ? `health ${body.data.health}` : `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd member ${member.name} did not become healthy within ${timeoutMs} ms (${last})`);
}

/** What the embedded member keeps beside etcd's own data: its ports, the same on every start. */
const portsFile = z.object({ clientPort: z.number().int(), peerPort: z.number().int(), token: z.string() });

export interface EmbeddedEtcdOptions {
  /** Holds etcd's data (`member/` below `etcd/`) and the ports it was given first. */
  dataDir: string;
  /** The etcd executable (default: `etcd` found on `searchPath`). */
  binary?: string;
  /** Where to look for `etcd` (default: PATH). */
  searchPath?: string;
  startTimeoutMs?: number;
  log?: Logger;
}

export interface EmbeddedEtcd {
  readonly endpoints: string[];
  readonly pid: number;
  /** Stops the member (SIGTERM, then SIGKILL); its data stays. */
  close(): Promise<void>;
}

/**
 * The coordinator's embedded default: a single-member etcd on loopback, its data in `dataDir`. The first start
 * picks free ports and writes them down; later starts use them again (the member's peer URL is part of its data).
 */
export async function startEmbeddedEtcd(options: EmbeddedEtcdOptions): Promise<EmbeddedEtcd> {
  const binary = options.binary ?? findEtcd(options.searchPath);
  if (!binary) throw new EtcdNotFoundError();
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const portsPath = join(options.dataDir, 'ports.json');
  let saved: z.output<typeof portsFile> | undefined;
  try {
    saved = portsFile.parse(JSON.parse(readFileSync(portsPath, 'utf8')));
  } catch {
    saved = undefined;
  }
  if (!saved) {
    const [clientPort, peerPort] = await freeLoopbackPorts(2);
    saved = { clientPort: clientPort!, peerPort: peerPort!, token: `vdsm-ts-${randomBytes(8).toString('hex')}` };
    writeFileSync(portsPath, JSON.stringify(saved) + '\n', { mode: 0o600 });
  }
  const member: MemberSpec = {
    name: 'coordinator',
    dataDir: join(options.dataDir, 'etcd'),
    clientPort: saved.clientPort,
    peerPort: saved.peerPort,
  };
  const started = spawnMember(binary, member, { members: [member], token: saved.token });
  try {
    await waitHealthy(started, options.startTimeoutMs ?? 30_000);
  } catch (err) {
    await started.stop(1000);
    throw err;
  }
  options.log?.info({ pid: started.pid, endpoint: started.clientUrl }, 'embedded etcd started');
  return {
    endpoints: [started.clientUrl],
    pid: started.pid,
    close: async () => {
      await started.stop();
      options.log?.info({ pid: started.pid }, 'embedded etcd stopped');
    },
  };
}
