import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './paths.js';

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone (at once if it already is). */
export async function stopProcess(c: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `hosted-engine` tool with only PATH and `env` in its environment (bounded: 30 s). */
export function runHostedEngine(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'dist/cli/hosted-engine.js'), ...args], { timeout: 30_000, env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Starts the built `he-broker` or `he-agent` on a hosted-engine.conf (only PATH in its environment). */
export function spawnHeDaemon(name: 'he-broker' | 'he-agent', conf: string): ChildProcess {
  return spawn(process.execPath, [join(ROOT, `dist/cli/${name}.js`), '--conf', conf], { stdio: 'ignore', env: { PATH: process.env.PATH } });
}
