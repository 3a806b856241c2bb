import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
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

/**
 * Our agent's metadata against ClusterLabs' under one name: ours exits 0, has the same parameter table and names
 * itself. Returns both documents for the checks a test adds.
 */
export async function expectMetadataParity(name: string, ours = ourAgent(name), theirs = theirAgent(name)): Promise<{ theirs: string; ours: string }> {
  const [t, o] = await Promise.all([runFence(theirs, ['-o', 'metadata']), runFence(ours, ['-o', 'metadata'])]);
  expect(o.code).toBe(0);
  expect(parameterTable(o.stdout)).toEqual(parameterTable(t.stdout));
  expect(o.stdout).toContain(`<resource-agent name="${name}"`);
  return { theirs: t.stdout, ours: o.stdout };
}
