import { execFile } from 'node:child_process';

export interface RunResult {
  /** Exit code; -1 when the command could not run or was killed. */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the commands that change the system outside our files (usermod, chown, systemctl): tests put a recorder in its
 * place to see what would run. No shell: arguments go to the program as they are.
 */
export type Runner = (file: string, args: readonly string[]) => Promise<RunResult>;

/** systemctl restart may wait for a slow stop (vdsmd closes its VMs' monitors); bounded all the same. */
const TIMEOUT_MS = 300_000;

export const execRunner: Runner = (file, args) =>
  new Promise((resolve) => {
    execFile(file, [...args], { timeout: TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      const code = (err as { code?: unknown }).code;
      resolve({
        code: typeof code === 'number' ? code : -1,
        stdout,
        stderr: stderr || err.message,
      });
    });
  });

/** `file args` in words, for messages (no secrets ever go through the runner). */
export const commandLine = (file: string, args: readonly string[]) => [file, ...args].join(' ');
