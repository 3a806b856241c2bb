import { basename } from 'node:path';
import type { FenceAgent } from './agent.js';
import { runAgent } from './run.js';

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

/** The standalone executable: `fence_<name> [options]`, or options as key=value lines on stdin. */
export async function fenceMain(agent: FenceAgent<unknown>): Promise<never> {
  const name = basename(process.argv[1] ?? agent.name).replace(/\.js$/, '');
  const argv = process.argv.slice(2);
  // A caller may have put a password in our argv; overwrite the visible command line at once.
  process.title = name;
  const stdin = argv.length === 0 ? await readStdin() : '';
  const code = await runAgent(
    agent,
    { name, argv, stdin, env: process.env, version: process.env.npm_package_version },
    { out: (line) => process.stdout.write(line + '\n'), err: (text) => process.stderr.write(text) },
  );
  process.exitCode = code;
  // Let stdout drain; nothing else is left running.
  return new Promise<never>(() => setImmediate(() => process.exit(code)));
}
