/**
 * A throwaway machine with a real systemd for tests: `systemd-nspawn --volatile=overlay --boot` over a bind mount
 * of this machine's own root. Everything written inside goes to a tmpfs and is gone when the container stops; the
 * container has its own network namespace holding only loopback, so whatever boots in it (sshd, etcd, ...) never
 * meets the tests outside.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { killOnExit, stopProcess } from './processes.js';
import { runCommand, type CommandResult } from './run-command.js';
import { waitFor } from './wait.js';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface Container {
  name: string;
  /** The container's init (its systemd), as this machine sees it. */
  initPid: number;
  /** The console (systemd's boot messages), for a failure's report. */
  consoleFile: string;
  /** Runs `cmd args` inside (all its namespaces, its root), with a plain root environment. */
  run(cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** Like run, but throws with the output unless it exits 0. */
  check(cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** The argv prefix that runs a command of this machine's file system in the container's network namespace. */
  netnsWrap: string[];
  /** Halts the container (systemd shuts down cleanly), kills it after a bound, and removes the bind mount. */
  stop(): Promise<void>;
}

export interface BootOptions {
  /** A scratch directory of this test (the root's bind mount and the console log go there). */
  dir: string;
  name: string;
  /** host path -> container path, read-only. */
  bindRo?: Record<string, string>;
  /** The unit systemd boots to; a small target keeps the boot short and independent of what this machine enables. */
  target?: string;
  bootTimeoutMs?: number;
}

function killInit(pid: number): void {
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'systemd') process.kill(pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}

export async function bootContainer(opts: BootOptions): Promise<Container> {
  const root = join(opts.dir, 'root');
  mkdirSync(root, { recursive: true });
  // nspawn refuses to boot "/" itself; a (non-recursive) bind mount of it is the same tree without /proc, /sys, ...
  const bind = await runCommand('mount', ['--bind', '/', root]);
  if (bind.code !== 0) throw new Error(`mount --bind / ${root}: ${bind.stderr}`);
  const consoleFile = join(opts.dir, 'console.log');
  const out = openSync(consoleFile, 'w');
  const args = [
    `--directory=${root}`,
    '--volatile=overlay',
    '--boot',
    '--private-network',
    `--machine=${opts.name}`,
    // No machined or system bus out here (this machine's PID 1 is not systemd): no registration, no scope.
    '--register=no',
    '--keep-unit',
    '--link-journal=no',
    ...Object.entries(opts.bindRo ?? {}).map(([from, to]) => `--bind-ro=${from}:${to}`),
    `systemd.unit=${opts.target ?? 'multi-user.target'}`,
  ];
  let nspawn: ChildProcess;
  try {
    nspawn = spawn('systemd-nspawn', args, { stdio: ['ignore', out, out], env: { PATH } });
  } finally {
    closeSync(out);
  }
  killOnExit(nspawn);
  const console = () => readFileSync(consoleFile, 'utf8').split('\n').slice(-30).join('\n');
  const unmount = async () => {
    await runCommand('umount', ['-l', root]);
    try {
      rmdirSync(root);
    } catch {
      /* still busy: the scratch directory's removal reports it */
    }
  };

  try {
    const initPid = await waitFor(
      "the container's systemd",
      async () => {
        if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited ${nspawn.exitCode}:\n${console()}`);
        const r = await runCommand('pgrep', ['-P', String(nspawn.pid), '-x', 'systemd']);
        return r.code === 0 ? Number(r.stdout.trim().split('\n')[0]) : 0;
      },
      30_000,
    );
    const nsArgs = (cmd: string, args: string[]) => [
      '-t',
      String(initPid),
      '-m',
      '-u',
      '-i',
      '-n',
      '-p',
      '-C',
      '-r',
      '-w',
      '--',
      '/usr/bin/env',
      '-i',
      `PATH=${PATH}`,
      'HOME=/root',
      'LANG=C.UTF-8',
      cmd,
      ...args,
    ];
    const run: Container['run'] = (cmd, args, o = {}) =>
      runCommand('nsenter', nsArgs(cmd, args), { input: o.input, timeoutMs: o.timeoutMs ?? 60_000, env: { PATH } });
    const check: Container['check'] = async (cmd, args, o) => {
      const r = await run(cmd, args, o);
      if (r.code !== 0)
        throw new Error(`in the container: ${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    // "running" or "degraded" (a unit this machine enables may fail in a container): booted, no jobs left.
    await waitFor(
      'the container to finish booting',
      async () => {
        const r = await run('systemctl', ['is-system-running'], { timeoutMs: 10_000 });
        return ['running', 'degraded'].includes(r.stdout.trim());
      },
      opts.bootTimeoutMs ?? 120_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${console()}`);
    });
    return {
      name: opts.name,
      initPid,
      consoleFile,
      run,
      check,
      netnsWrap: ['nsenter', '-t', String(initPid), '-n', '--'],
      stop: async () => {
        // SIGTERM asks nspawn to halt the container cleanly; SIGKILL after the bound.
        await stopProcess(nspawn, 60_000);
        // A SIGKILLed nspawn leaves its container running: killing the namespace's init ends every process in it.
        killInit(initPid);
        await unmount();
      },
    };
  } catch (err) {
    await stopProcess(nspawn, 20_000);
    await unmount();
    throw err;
  }
}
