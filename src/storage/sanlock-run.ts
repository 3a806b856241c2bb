import { execFile } from 'node:child_process';

export type SanlockRun = (args: string[], timeoutMs: number) => Promise<string>;

export class SanlockError extends Error {
  override name = 'SanlockError';
}

/** Runs the sanlock CLI (there is no npm binding): argv only, never a shell; SANLOCK_RUN_DIR comes from our environment. */
export const runSanlock: SanlockRun = (args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(
      'sanlock',
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err)
          reject(
            new SanlockError(
              `sanlock ${args.slice(0, 2).join(' ')}: ${(stderr || stdout || err.message).trim().split('\n').slice(-2).join(' ')}`,
            ),
          );
        else resolve(stdout);
      },
    );
  });
