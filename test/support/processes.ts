/** Child processes tests start: stopping them, by pid (shared by tests and bench/, no vitest here). */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './paths.js';

export function isRunning(c: ChildProcess | undefined): c is ChildProcess {
  return !!c && c.exitCode === null && c.signalCode === null;
}

/** Resolves once the child has exited or failed to start; `done()` says whether it has by now. */
export function exitOf(c: ChildProcess): { exited: Promise<void>; done(): boolean } {
  let done = !isRunning(c);
  const exited = new Promise<void>((resolve) => {
    if (done) return resolve();
    const end = () => ((done = true), resolve());
    c.once('exit', end);
    c.once('error', end);
  });
  return { exited, done: () => done };
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last-resort cleanup: SIGKILLs the child if this process exits without having stopped it. */
export function killOnExit(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone (at once if it already is), or 2 s
 * after the SIGKILL whatever happened (a process stuck in the kernel may not die at all).
 */
export async function stopProcess(c: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!isRunning(c)) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  let bound: NodeJS.Timeout | undefined;
  await Promise.race([gone, new Promise((r) => (bound = setTimeout(r, graceMs + 2000)))]);
  clearTimeout(timer);
  clearTimeout(bound);
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `hosted-engine` tool with only PATH and `env` in its environment (bounded: 30 s). */
export function runHostedEngine(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'dist/cli/hosted-engine.js'), ...args],
      { timeout: 30_000, env: { PATH: process.env.PATH, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Starts the built `he-broker` or `he-agent` on a hosted-engine.conf (only PATH in its environment). */
export function spawnHeDaemon(name: 'he-broker' | 'he-agent', conf: string): ChildProcess {
  return spawn(process.execPath, [join(ROOT, `dist/cli/${name}.js`), '--conf', conf], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH },
  });
}
