/** Running fence agents (ours and ClusterLabs') and reading their output: shared by tests and bench/, so no vitest here. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.js';

export interface FenceResult {
  code: number | null;
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

/** Runs an agent with an argument array (no shell), optional stdin, and a hard time bound. */
export function runFence(program: string, args: string[], stdin?: string, timeoutMs = 30_000): Promise<FenceResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}spawn failed: ${err.message}`, ms: performance.now() - started });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
    child.stdin.end(stdin ?? '');
  });
}

/** stdout as the lines that matter (ClusterLabs prints nothing else there). */
export const lines = (r: FenceResult) => r.stdout.split('\n').filter((l) => l.trim() !== '');

/** Metadata as a comparable table: (attributes, getopt, type, default, choices) per parameter, in document order. */
export function parameterTable(xml: string) {
  return [...xml.matchAll(/<parameter (.*?)<\/parameter>/gs)].map(([block]) => {
    const attrs = /<parameter ([^>]*)>/.exec(block)![1]!.match(/(\w+)="([^"]*)"/g)!.sort();
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
