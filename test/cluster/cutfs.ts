/**
 * Shared storage that a test can cut for one simulated host: every host mounts the same backing
 * directory through its own cutfs (cutfs.c, a pass-through FUSE file system without caches), and
 * cut() makes every operation on that one mount fail with EIO - also on file descriptors opened
 * before, such as the lease file sanlock keeps open - until restore().
 *
 * Mounted with allow_other (the sanlock daemon runs as user sanlock; root needs no user_allow_other
 * in /etc/fuse.conf) and default_permissions (the kernel checks modes, as on a local file system).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compileCached } from './native-build.js';
import {
  childrenOf,
  isRunning,
  killAll,
  processRef,
  signalProcess,
  waitGone,
  type ProcessRef,
} from '../support/proc-pids.js';
import { exitOf } from '../support/processes.js';
import { runChecked, runCommand } from '../support/run-command.js';
import { settledWithin, sleep } from '../support/wait.js';

const CUTFS_SOURCE = fileURLToPath(new URL('./cutfs.c', import.meta.url));
const MOUNT_TIMEOUT_MS = 5_000;
const SWITCH_TIMEOUT_MS = 2_000;

export interface CutMountOptions {
  /** Starts cutfs, e.g. in another namespace; the process must become cutfs or stay its ancestor in
   *  the same mount namespace. Default: child_process.spawn. */
  spawn?: (argv: string[]) => ChildProcess;
}

export interface CutMount {
  mountpoint: string;
  /** The cutfs daemon. */
  pid: number;
  /** From its resolution on, every operation on this mount fails with EIO (bounded wait for cutfs to switch). */
  cut(): Promise<void>;
  /** From its resolution on, the mount works again. */
  restore(): Promise<void>;
  /** Lazy unmount, then SIGTERM/SIGKILL the daemon; idempotent. Open files then fail with ENOTCONN. */
  unmount(): Promise<void>;
}

export async function buildCutfs(): Promise<string> {
  const cflags = (await runChecked('pkg-config', ['--cflags', 'fuse3'])).stdout.trim().split(/\s+/).filter(Boolean);
  const libs = (await runChecked('pkg-config', ['--libs', 'fuse3'])).stdout.trim().split(/\s+/).filter(Boolean);
  return compileCached({
    source: CUTFS_SOURCE,
    cacheDir: '/var/tmp/vdsm-ts-cutfs',
    suffix: '',
    cflags: ['-O2', '-Wall', ...cflags],
    libs,
  });
}

/** Decodes mountinfo's octal escapes (\040 for a space, ...). */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount ids of FUSE mounts on `mountpoint` as `pid` sees them. */
function fuseMountIds(pid: number | 'self', mountpoint: string): string[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return [];
  }
  const ids: string[] = [];
  for (const line of text.split('\n')) {
    const [before, after] = line.split(' - ');
    const fields = before?.split(' ') ?? [];
    if (fields[4] !== undefined && unescapeMountinfo(fields[4]) === mountpoint && after?.startsWith('fuse'))
      ids.push(fields[0]!);
  }
  return ids;
}

function exeOf(p: ProcessRef): string | undefined {
  try {
    return readlinkSync(`/proc/${p.pid}/exe`);
  } catch {
    return undefined;
  }
}

/** The cutfs process: `top` itself, or a descendant when a wrapper forked it. */
function findCutfs(top: ProcessRef, binary: string): ProcessRef | undefined {
  let level = [top];
  for (let depth = 0; depth < 4 && level.length > 0; depth++) {
    const hit = level.find((p) => exeOf(p) === binary);
    if (hit) return hit;
    level = level.flatMap(childrenOf);
  }
  return undefined;
}

export async function mountCutfs(backing: string, mountpoint: string, opts: CutMountOptions = {}): Promise<CutMount> {
  const binary = realpathSync(await buildCutfs());
  const target = realpathSync(mountpoint);
  const earlierMounts = new Set(fuseMountIds('self', target));
  const argv = [
    binary,
    realpathSync(backing),
    target,
    '-o',
    'allow_other,default_permissions,fsname=cutfs,subtype=cutfs',
  ];
  const child = opts.spawn ? opts.spawn(argv) : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });

  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const { exited: reaped, done: childExited } = exitOf(child);
  const top = child.pid === undefined ? undefined : processRef(child.pid);

  let daemon: ProcessRef | undefined;
  const deadline = Date.now() + MOUNT_TIMEOUT_MS;
  for (let i = 0; i < MOUNT_TIMEOUT_MS / 20 + 1 && Date.now() < deadline && !childExited() && top; i++) {
    if (fuseMountIds(top.pid, target).some((id) => !earlierMounts.has(id))) {
      daemon = findCutfs(top, binary);
      break;
    }
    await sleep(20);
  }
  if (!daemon) {
    if (top) await killAll([top, ...childrenOf(top)]).catch(() => undefined);
    await settledWithin(reaped, 2_000);
    const why = childExited()
      ? `exited before it mounted (code ${child.exitCode}, signal ${child.signalCode})`
      : top
        ? `did not mount within ${MOUNT_TIMEOUT_MS} ms`
        : `gone before it could be looked at (pid ${child.pid})`;
    throw new Error(`cutfs ${backing} on ${target}: ${why}: ${stderr}`);
  }
  const cutfs = daemon;

  const signal = (sig: NodeJS.Signals) => {
    if (!isRunning(cutfs)) throw new Error(`cutfs on ${target} (pid ${cutfs.pid}) is not running: ${stderr}`);
    process.kill(cutfs.pid, sig);
  };

  // The signal is handled asynchronously: wait until the mount answers as asked (stat of its root goes
  // through cutfs, the attribute cache being off), or a read right after cut() could still succeed.
  const switchTo = async (sig: NodeJS.Signals, wanted: string | undefined): Promise<void> => {
    signal(sig);
    const deadline = Date.now() + SWITCH_TIMEOUT_MS;
    for (let i = 0; i < SWITCH_TIMEOUT_MS; i++) {
      const code = await stat(target).then(
        () => undefined,
        (err: NodeJS.ErrnoException) => err.code,
      );
      if (code === wanted) return;
      if (Date.now() >= deadline) break;
      await sleep(1);
    }
    throw new Error(`cutfs on ${target} did not switch to ${wanted ?? 'working'} within ${SWITCH_TIMEOUT_MS} ms`);
  };

  let unmounting: Promise<void> | undefined;
  return {
    mountpoint: target,
    pid: cutfs.pid,
    cut: () => switchTo('SIGUSR1', 'EIO'),
    restore: () => switchTo('SIGUSR2', undefined),
    unmount() {
      unmounting ??= (async () => {
        await runCommand('fusermount3', ['-u', '-z', target], { timeoutMs: 5_000 });
        signalProcess(cutfs, 'SIGTERM');
        if (!(await waitGone([cutfs], 3_000))) await killAll([cutfs]);
        if (top && top.pid !== cutfs.pid) await killAll([top]);
        await settledWithin(reaped, 5_000);
        // Only if fusermount3 could not see it (another mount namespace) and the daemon was killed.
        if (fuseMountIds('self', target).some((id) => !earlierMounts.has(id)))
          await runCommand('umount', ['-l', target], { timeoutMs: 5_000 });
      })();
      return unmounting;
    },
  };
}
