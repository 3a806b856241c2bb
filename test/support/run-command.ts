/** Running a command to its end, bounded in time (shared by tests and bench/, no vitest here). */
import { execFile } from 'node:child_process';

export interface CommandResult {
  /** Exit code; -1 when the command could not run, timed out or died of a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** The whole environment (default: only PATH). */
  env?: NodeJS.ProcessEnv;
  /** SIGKILL after this long (default 10 s). */
  timeoutMs?: number;
  /** Written to its stdin, which is then closed (it is closed at once without). */
  input?: string | Buffer;
  cwd?: string;
}

/** Runs `file args` (no shell), bounded by `timeoutMs`; never rejects: why it failed is at the end of stderr. */
export function runCommand(file: string, args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const timeout = opts.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        env: opts.env ?? { PATH: process.env.PATH },
        cwd: opts.cwd,
        timeout,
        killSignal: 'SIGKILL',
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        const why = e.killed
          ? `\n[timed out after ${timeout} ms]`
          : typeof e.code === 'number'
            ? ''
            : `\n[${e.message}]`;
        resolve({ code: typeof e.code === 'number' ? e.code : -1, stdout, stderr: stderr + why });
      },
    );
    child.stdin?.on('error', () => undefined); // a command that exits without reading its input
    child.stdin?.end(opts.input);
  });
}

/** Like runCommand, but throws (with the output) unless the command exits 0. */
export async function runChecked(file: string, args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const r = await runCommand(file, args, opts);
  if (r.code !== 0)
    throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}
