/** Running fence agents (ours and ClusterLabs') and reading their output: shared by tests and bench/, so no vitest here. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.js';

export interface FenceResult {
  code: number | null;
  /** The signal that ended it (SIGKILL: it ran past the time bound). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Our standalone agent under a given name: its own bundle, or an alias symlink to its agent's bundle. */
export function ourAgent(name: string): string {
  const bundle = join(ROOT, 'dist/fence', `${name}.js`);
  return existsSync(bundle) ? bundle : join(ROOT, 'dist/fence', name);
}
/** ClusterLabs' agent, run directly: its shebang names Debian's /usr/bin/python3. */
export const theirAgent = (name: string) => `/usr/sbin/${name}`;

/**
 * Login and prompt timeouts for tests that are not about timeouts. ClusterLabs' defaults (login 5 s, 10 s for iLO;
 * 3 s for each prompt or answer) cover starting gnutls-cli, ssh or telnet under a pty and one device answer; on a CI
 * machine under load that has taken longer (fence_ilo2 exited 1, "Unable to connect/login", after 6.8 s: its 3 s wait
 * for GET_FW_VERSION ran out). Put them first: a test about a timeout sets its own later on the line, and in both
 * ClusterLabs' agents and ours the last one given wins.
 */
export const PATIENT = ['--login-timeout', '20', '--shell-timeout', '10'];

/** What ClusterLabs' agents are run with when a test does not want a bare environment: ours, in the C locale. */
export const clusterLabsEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LANG: 'C', LC_ALL: 'C' });

/**
 * Runs an agent with an argument array (no shell), optional stdin, and a hard time bound (SIGKILL); only PATH in its
 * environment unless `env` is given. Never rejects: an agent that cannot be started has code null and says why on
 * stderr.
 */
export function runFence(
  program: string,
  args: string[],
  stdin?: string,
  timeoutMs = 30_000,
  env: NodeJS.ProcessEnv = { PATH: process.env.PATH },
): Promise<FenceResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({
        code: null,
        signal: null,
        stdout,
        stderr: `${stderr}spawn failed: ${err.message}`,
        ms: performance.now() - started,
      });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
    child.stdin.on('error', () => undefined); // an agent that exits without reading its input
    child.stdin.end(stdin ?? '');
  });
}

/** stdout as the lines that matter (ClusterLabs prints nothing else there). */
export const lines = (r: FenceResult) => r.stdout.split('\n').filter((l) => l.trim() !== '');

/** Metadata as a comparable table: (attributes, getopt, type, default, choices) per parameter, in document order. */
export function parameterTable(xml: string) {
  return [...xml.matchAll(/<parameter (.*?)<\/parameter>/gs)].map(([block]) => {
    const attrs = /<parameter ([^>]*)>/
      .exec(block)![1]!
      .match(/(\w+)="([^"]*)"/g)!
      .sort();
    const content = /<content ([^>]*?)\/?>/.exec(block)![1]!;
    return {
      attrs,
      getopt: /mixed="([^"]*)"/.exec(block)![1],
      type: /type="([^"]+)"/.exec(content)![1],
      default: /default="([^"]*)"/.exec(content)?.[1],
      choices: [...block.matchAll(/option value="([^"]+)"/g)].map((m) => m[1]),
    };
  });
}
