/**
 * The storage monitor: the whiteboard file on shared storage can be opened and read, within a bound.
 * Replaces upstream's `storage-domain` (Host.getStorageRepoStats valid and delay <= 10 s) with a direct check.
 *
 * No child process: the read runs on libuv's thread pool and cannot be cancelled, so a read that hangs
 * (dead NFS server) keeps one pool thread; while it hangs no further probe is started (the answer stays
 * false), so a hung mount never takes more than that one thread.
 */
import { open } from 'node:fs/promises';
import type { Logger } from 'pino';
import { PeriodicMonitor, TIMED_OUT, within } from './periodic.js';

export const STORAGE_TIMEOUT_MS = 5000;

export interface StorageMonitorOptions {
  path: string;
  intervalMs: number;
  /** Bound of one open + read; default 5 s. */
  timeoutMs?: number;
  log?: Logger;
}

/** Opens `path` and reads its first 4 KiB (one whiteboard slot); rejects on any error. */
export async function readProbe(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.read(Buffer.alloc(4096), 0, 4096, 0);
  } finally {
    await handle.close();
  }
}

export function createStorageMonitor(
  options: StorageMonitorOptions,
): PeriodicMonitor<boolean | null> & { readonly hung: boolean } {
  const timeout = options.timeoutMs ?? STORAGE_TIMEOUT_MS;
  let hung: Promise<unknown> | undefined;
  const monitor = new PeriodicMonitor<boolean | null>({
    name: 'storage',
    intervalMs: options.intervalMs,
    initial: null,
    log: options.log,
    onError: () => false,
    run: async (signal) => {
      if (hung) return false;
      const probe = readProbe(options.path).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          options.log?.warn({ path: options.path, err: err.code ?? String(err) }, 'storage: cannot read');
          return false;
        },
      );
      const result = await within(probe, timeout, signal);
      if (result !== TIMED_OUT) return result;
      options.log?.warn({ path: options.path, timeoutMs: timeout }, 'storage: read did not finish in time');
      const pending = probe.finally(() => {
        if (hung === pending) hung = undefined;
      });
      hung = pending;
      return false;
    },
  });
  return Object.defineProperty(monitor, 'hung', { get: () => hung !== undefined, enumerable: true }) as PeriodicMonitor<
    boolean | null
  > & { readonly hung: boolean };
}
