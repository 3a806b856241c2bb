/**
 * One sanlock daemon per simulated host (Debian sanlock 3.8.5; docs/hosted-engine.md, "Cluster test bed").
 *
 * Each daemon has its own SANLOCK_RUN_DIR (socket sanlock.sock, pid file sanlock.pid, and here our
 * daemon.log) and is driven with `sanlock client ...` carrying that variable. The daemon starts as
 * root, forks a root helper (the helper kills lease holders' pids) and then runs as user sanlock, so
 * lease files and every directory above them must be accessible to that user.
 *
 * In this sandbox the daemon cannot raise RLIMIT_MEMLOCK/RTPRIO/CORE and would exit at start: the
 * test-only LD_PRELOAD shim rlimit_shim.c clamps those requests. -w 0 disables the watchdog (no
 * wdmd here), so a host that loses its lease only has its lease holders killed, nothing is reset.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logTail } from '../support/logs.js';
import { exitOf } from '../support/processes.js';
import { settledWithin, sleep } from '../support/wait.js';
import { compileCached } from './native-build.js';
import { childrenOf, isRunning, killAll, processRef, waitGone } from '../support/proc-pids.js';
import { runChecked, runCommand, type CommandResult } from '../support/run-command.js';

const SHIM_SOURCE = fileURLToPath(new URL('./rlimit_shim.c', import.meta.url));
const MiB = 1 << 20;

export interface SanlockOptions {
  /** The daemon's host name (-e). */
  name: string;
  /** Default: a fresh directory under $TMPDIR, removed by stop(). */
  runDir?: string;
  /** Starts the daemon, e.g. inside a network namespace (`ip netns exec ns ...argv`); the process
   *  must become the daemon (exec, no fork). Default: child_process.spawn, output to runDir/daemon.log. */
  spawn?: (argv: string[], env: Record<string, string>) => ChildProcess;
}

export interface SanlockDaemon {
  runDir: string;
  /** What `sanlock client` needs to talk to this daemon. */
  env: { SANLOCK_RUN_DIR: string };
  pid: number;
  /** The daemon's root helper process, if one was found. */
  helperPid: number | undefined;
  logFile: string;
  /** Runs `sanlock client <args>` against this daemon, e.g. client(['status']). */
  client(args: string[], timeoutMs?: number): Promise<CommandResult>;
  /** SIGKILLs daemon and helper, like a crash (lease holders stay). */
  kill(): Promise<void>;
  /** `sanlock client shutdown -f 1` (kills lease holders, releases its lockspaces), then SIGKILL
   *  after a bound; removes runDir if startSanlock made it. Idempotent. */
  stop(): Promise<void>;
}

export function buildRlimitShim(): Promise<string> {
  return compileCached({
    source: SHIM_SOURCE,
    cacheDir: '/var/tmp/vdsm-ts-sanlock',
    suffix: '.so',
    cflags: ['-shared', '-fPIC', '-O2'],
    libs: ['-ldl'],
  });
}

function defaultSpawn(logFile: string) {
  return (argv: string[], env: Record<string, string>): ChildProcess => {
    const log = openSync(logFile, 'a');
    try {
      return spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
  };
}

export async function startSanlock(opts: SanlockOptions): Promise<SanlockDaemon> {
  const shim = await buildRlimitShim();
  const madeRunDir = opts.runDir === undefined;
  const runDir = opts.runDir ?? (await mkdtemp(join(tmpdir(), `vdsm-sanlock-${opts.name}-`)));
  if (madeRunDir) chmodSync(runDir, 0o755);
  const logFile = join(runDir, 'daemon.log');
  const clientEnv = { SANLOCK_RUN_DIR: runDir };
  const client = (args: string[], timeoutMs = 10_000) =>
    runCommand('sanlock', ['client', ...args], { env: { PATH: process.env.PATH, ...clientEnv }, timeoutMs });

  const argv = ['sanlock', 'daemon', '-D', '-w', '0', '-l', '0', '-e', opts.name];
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', SANLOCK_RUN_DIR: runDir, LD_PRELOAD: shim };
  const child = (opts.spawn ?? defaultSpawn(logFile))(argv, env);
  if (opts.spawn) {
    const log = createWriteStream(logFile, { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  }
  const { exited: reaped, done: childExited } = exitOf(child);

  const cleanupFailedStart = async (why: string): Promise<never> => {
    const self = child.pid === undefined ? undefined : processRef(child.pid);
    if (self) await killAll([self, ...childrenOf(self)]).catch(() => undefined);
    await settledWithin(reaped, 5_000);
    const log = logTail(logFile);
    if (madeRunDir) await rm(runDir, { recursive: true, force: true });
    throw new Error(`sanlock daemon ${opts.name}: ${why}\n${log}`);
  };

  const deadline = Date.now() + 5_000;
  for (let i = 0; ; i++) {
    if (childExited()) return cleanupFailedStart('exited at start');
    if ((await client(['status'], 2_000)).code === 0) break;
    if (Date.now() > deadline || i > 100)
      return cleanupFailedStart('did not answer `sanlock client status` within 5 s');
    await sleep(50);
  }

  const pidFromFile = Number(readFileSync(join(runDir, 'sanlock.pid'), 'utf8').trim());
  const daemon = processRef(pidFromFile) ?? (child.pid === undefined ? undefined : processRef(child.pid));
  if (!daemon) return cleanupFailedStart('answered, but its pid is unknown');
  const helpers = childrenOf(daemon);

  const killBoth = async () => {
    // Find the helper again before the daemon dies: afterwards it is re-parented away.
    const procs = [daemon, ...helpers, ...childrenOf(daemon).filter((c) => !helpers.some((h) => h.pid === c.pid))];
    await killAll(procs);
    await settledWithin(reaped, 5_000);
  };

  let stopping: Promise<void> | undefined;
  return {
    runDir,
    env: clientEnv,
    pid: daemon.pid,
    helperPid: helpers[0]?.pid,
    logFile,
    client,
    kill: killBoth,
    stop() {
      stopping ??= (async () => {
        if (isRunning(daemon)) {
          await client(['shutdown', '-f', '1'], 5_000);
          await waitGone([daemon], 10_000);
        }
        await killBoth();
        if (madeRunDir) await rm(runDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

function sanlockUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('sanlock:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('no user sanlock in /etc/passwd');
  return { uid: Number(uid), gid: Number(gid) };
}

export interface LeaseFileLayout {
  lockspace: string;
  /** Resource leases; offsets are multiples of 1 MiB (sanlock's default alignment), the lockspace is at 0. */
  resources: { name: string; offset: number }[];
  /** Seconds; written into the lockspace (`-o`), add_lockspace should use the same. */
  ioTimeout: number;
}

/** Creates a lease file (owned sanlock:sanlock, 0660) holding one lockspace at offset 0 and the resources. */
export async function initLeaseFile(path: string, layout: LeaseFileLayout): Promise<void> {
  for (const s of [path, layout.lockspace, ...layout.resources.map((r) => r.name)]) {
    if (s.includes(':')) throw new Error(`sanlock lease strings cannot hold ':' (${s})`);
  }
  const end = Math.max(MiB * (1 + layout.resources.length), ...layout.resources.map((r) => r.offset + MiB));
  const file = await open(path, 'w', 0o660);
  try {
    await file.truncate(end);
  } finally {
    await file.close();
  }
  const { uid, gid } = sanlockUser();
  await chown(path, uid, gid);
  chmodSync(path, 0o660);
  await runChecked(
    'sanlock',
    ['direct', 'init', '-o', String(layout.ioTimeout), '-s', `${layout.lockspace}:0:${path}:0`],
    { timeoutMs: 30_000 },
  );
  for (const r of layout.resources) {
    await runChecked('sanlock', ['direct', 'init', '-r', `${layout.lockspace}:${r.name}:${path}:${r.offset}`], {
      timeoutMs: 30_000,
    });
  }
}
