/** Reading the log files of the daemons tests start (shared by tests and bench/, no vitest here). */
import { readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { waitFor } from './wait.js';

/** The end of a log file for an error message; '' while it does not exist. */
export function logTail(path: string, chars = 2000): string {
  try {
    return readFileSync(path, 'utf8').trim().slice(-chars);
  } catch {
    return '';
  }
}

/** A log file's size now, in bytes (0 while it does not exist): where `logSince` starts reading. */
export function logSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * What a log file gained since `offset` (from `logSize`), read without blocking the event loop: a test that samples
 * while it reads (the cluster bed) must not stall on a daemon's debug log of many megabytes.
 */
export async function logSince(path: string, offset: number): Promise<string> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    await file.read(buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    await file.close();
  }
}

/**
 * Waits (bounded) until the log file matches `re`; gives up early once `running` (the writer) says false. The
 * error shows the file's end.
 */
export async function waitForLog(
  path: string,
  re: RegExp,
  timeoutMs: number,
  what: string,
  opts: { everyMs?: number; running?: () => boolean } = {},
): Promise<void> {
  const seen = () => {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      /* not written yet */
    }
    if (re.test(text)) return true;
    if (opts.running && !opts.running()) throw new Error(`${what}: its process exited`);
    return undefined;
  };
  try {
    await waitFor(what, seen, timeoutMs, opts.everyMs ?? 50);
  } catch (err) {
    const tail = logTail(path);
    throw new Error(`${(err as Error).message}: ${tail ? `${path} ends:\n${tail}` : `${path} is empty or missing`}`, {
      cause: err,
    });
  }
}
