import { execFile } from 'node:child_process';

/** Reads `size` bytes of a file at `offset` (both multiples of its sector size). */
export type DirectRead = (path: string, offset: number, size: number, timeoutMs: number) => Promise<Buffer>;

export class DirectReadError extends Error {
  override name = 'DirectReadError';
}

/**
 * Reads with O_DIRECT, as sanlock does, so that no page cache stands between us and what the other hosts wrote.
 * Through dd: Node cannot promise the sector-aligned buffer O_DIRECT needs. Argv only, never a shell.
 */
export const readDirect: DirectRead = (path, offset, size, timeoutMs) =>
  new Promise((resolve, reject) => {
    if (offset % size !== 0) return reject(new DirectReadError(`offset ${offset} is not a multiple of ${size}`));
    execFile(
      'dd',
      [`if=${path}`, 'iflag=direct', `bs=${size}`, `skip=${offset / size}`, 'count=1', 'status=none'],
      { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'buffer', maxBuffer: size + 1 },
      (err, stdout, stderr) => {
        if (err) reject(new DirectReadError(`read ${path} at ${offset}: ${stderr.toString().trim() || err.message}`));
        else if (stdout.length !== size)
          reject(new DirectReadError(`read ${path} at ${offset}: ${stdout.length} of ${size} bytes`));
        else resolve(stdout);
      },
    );
  });
