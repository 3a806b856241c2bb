import { openSync, readFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FenceAgent } from './agent.js';
import { runAgent } from './run.js';

/** The package version, put into each agent bundle at build time (tsup.config.ts `define`). */
declare const __VDSM_TS_VERSION__: string | undefined;

function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return Promise.resolve('');
  return new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => (text += d));
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', () => resolve(text));
  });
}

/** Unbundled (tsx, tests of the sources): the version of the package.json above this file. */
function packageVersion(): string | undefined {
  if (typeof __VDSM_TS_VERSION__ === 'string') return __VDSM_TS_VERSION__;
  for (let dir = dirname(fileURLToPath(import.meta.url)), i = 0; i < 5; dir = dirname(dir), i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vdsm-ts') return pkg.version;
    } catch {
      // not here: one level up
    }
  }
  return undefined;
}

/** --debug-file: appended to, created readable by its owner only (the dialogue names devices and users). */
function openDebugFile(path: string): (text: string) => void {
  const fd = openSync(path, 'a', 0o600);
  return (text) => void writeSync(fd, text);
}

/** The standalone executable: `fence_<name> [options]`, or options as key=value lines on stdin. */
export async function fenceMain(agent: FenceAgent<unknown>): Promise<never> {
  const name = basename(process.argv[1] ?? agent.name).replace(/\.js$/, '');
  const argv = process.argv.slice(2);
  // A caller may have put a password in our argv; overwrite the visible command line at once.
  process.title = name;
  const stdin = argv.length === 0 ? await readStdin() : '';
  const code = await runAgent(
    agent,
    { name, argv, stdin, env: process.env, version: packageVersion(), startedAt: performance.timeOrigin },
    {
      out: (line) => process.stdout.write(line + '\n'),
      err: (text) => process.stderr.write(text),
      openDebugFile,
    },
  );
  process.exitCode = code;
  // Let stdout drain; nothing else is left running.
  return new Promise<never>(() => setImmediate(() => process.exit(code)));
}
