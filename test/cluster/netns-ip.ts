/**
 * Small helpers for test/cluster/netns.ts: iproute2 through execFile (never a shell) and
 * process liveness checks by pid.
 */
import { execFileSync } from 'node:child_process';
import { isRunning, processRef, waitGone as waitProcessesGone, type ProcessRef } from './proc-pids.js';
import { runCommand, type CommandResult } from './run-command.js';

export const IP = '/usr/sbin/ip';

export type ExecResult = CommandResult;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** execFile with a time bound (SIGKILL); never rejects, the outcome is in `code`. Inherits our environment. */
export function execBounded(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return runCommand(cmd, args, { timeoutMs: opts.timeoutMs, env: opts.env ?? process.env });
}

/** `ip ...args`; rejects with ip's stderr on a non-zero exit. */
export async function ip(args: string[], timeoutMs = 5000): Promise<string> {
  const r = await execBounded(IP, args, { timeoutMs });
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/** `ip ...args` for cleanup paths: never throws, true on success. */
export async function ipQuiet(args: string[], timeoutMs = 5000): Promise<boolean> {
  return (await execBounded(IP, args, { timeoutMs })).code === 0;
}

/** Synchronous best-effort `ip ...args` (for the process 'exit' handler). */
export function ipSync(args: string[], timeoutMs = 2000): string {
  try {
    return execFileSync(IP, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

/** Names of all named network namespaces (`ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const out = await execBounded(IP, ['netns', 'list'], { timeoutMs: 5000 });
  return parseNetnsList(out.stdout);
}

export function parseNetnsList(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export function parsePids(out: string): number[] {
  return out
    .split(/\s+/)
    .map((s) => Number.parseInt(s, 10))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined (gone, or a zombie). */
export function startTimeOf(pid: number): number | undefined {
  const p = processRef(pid);
  return p && isRunning(p) ? Number(p.startTime) : undefined;
}

/** The pid runs and is not a zombie (and, if given, is still the process started at `startTime`). */
export function alive(pid: number, startTime?: number): boolean {
  const t = startTimeOf(pid);
  return t !== undefined && (startTime === undefined || t === startTime);
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Wait (bounded) until none of the processes now behind `pids` runs; true if they all went. */
export function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  return waitProcessesGone(pids.map(processRef).filter((p): p is ProcessRef => p !== undefined), timeoutMs, 20);
}
