import { statfs } from 'node:fs/promises';

/** The paths vdsm watches for free space (the engine warns when they run low). */
export const MONITORED_PATHS = ['/tmp', '/var/log', '/var/run/vdsm'] as const;

/** Free MiB (for unprivileged users) per monitored path; paths that do not exist here are left out. */
export async function readDiskFree(paths: readonly string[] = MONITORED_PATHS): Promise<Record<string, number>> {
  const free: Record<string, number> = {};
  for (const path of paths) {
    try {
      const s = await statfs(path);
      free[path] = Math.floor((s.bavail * s.bsize) / 2 ** 20);
    } catch {
      // A missing path would read as 0 MiB free and raise a false low-space alert in the engine.
    }
  }
  return free;
}
