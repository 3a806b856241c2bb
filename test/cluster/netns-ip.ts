/** Small helpers for test/cluster/netns.ts: iproute2 through execFile (never a shell). */
import { execFileSync } from 'node:child_process';
import { runCommand, type CommandResult } from '../support/run-command.js';

export const IP = '/usr/sbin/ip';

export type ExecResult = CommandResult;

/** execFile with a time bound (SIGKILL); never rejects, the outcome is in `code`. Inherits our environment. */
export function execBounded(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
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
    return execFileSync(IP, args, {
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
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
