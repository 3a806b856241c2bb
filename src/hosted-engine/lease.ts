import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';

/** Who holds the lease; `state` is the holder's sanlock host state where the lock knows it. */
export interface LeaseHolder {
  hostId: number;
  renewedAt: number;
  state?: string;
}

/**
 * "This host may run the engine VM": the lock that keeps the engine VM from running twice. Who takes and keeps
 * the lease differs: the file lock is taken and renewed by these calls; with sanlock, libvirt takes it for QEMU
 * when the engine VM starts, so these calls only read it.
 */
export interface EngineLease {
  /**
   * Before an engine VM start here: true when it may go ahead (the lease is free, ours, or its holder dead).
   * The file lock takes the lease for this host then; sanlock only reads who holds it.
   */
  prepareStart(hostId: number): Promise<boolean>;
  /** Whether this host holds the lease now. The file lock extends the hold as it answers; sanlock only reads it. */
  confirmHold(hostId: number): Promise<boolean>;
  /** After the engine VM stopped here: the file lock gives the lease up if this host holds it; sanlock has nothing to do. */
  releaseAfterStop(hostId: number): Promise<void>;
  /** Who holds the lease, read from storage; null when nobody does (or its holder is dead). */
  holder(): Promise<LeaseHolder | null>;
  /** Frees the lease whoever holds it (--reinitialize-lockspace): only with every agent stopped. */
  reset(): Promise<void>;
  /** A device for the engine VM's domain XML when the hypervisor itself takes the lease for the VM. */
  leaseXml?(): string;
}

interface Record {
  hostId: number;
  /** Wall-clock ms of the holder's last renewal. */
  renewedAt: number;
}

const MUTEX_STALE_MS = 10_000;

/**
 * A lease in one file on shared storage, for tests and small labs: the holder renews it every tick, and it
 * is free again `timeoutMs` after the last renewal. Updates are serialised by an O_EXCL mutex file next to it.
 *
 * What it does NOT guarantee, unlike sanlock (the production lock, sanlock.ts): expiry is judged by wall
 * clocks, so hosts need NTP-close clocks; and nothing fences a holder that stalls (a paused process, a hung
 * NFS client) past the timeout and then carries on: until its next confirmHold() answers false it may still believe
 * it holds the lease. sanlock closes that hole with a watchdog; this file cannot.
 */
export class FileLease implements EngineLease {
  constructor(
    private readonly path: string,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private async read(): Promise<Record | null> {
    try {
      const r = JSON.parse(await readFile(this.path, 'utf8')) as Record;
      return Number.isInteger(r.hostId) && Number.isFinite(r.renewedAt) ? r : null;
    } catch {
      return null;
    }
  }

  private async write(r: Record | null): Promise<void> {
    if (r === null) {
      await rm(this.path, { force: true });
      return;
    }
    const tmp = `${this.path}.${r.hostId}.tmp`;
    await writeFile(tmp, JSON.stringify(r), { flush: true });
    await rename(tmp, this.path);
  }

  /** Runs `fn` holding the mutex file; a mutex left by a crashed holder is broken after 10 s. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const mutex = `${this.path}.mutex`;
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        const fh = await open(mutex, 'wx');
        await fh.writeFile(String(this.now()));
        await fh.close();
        try {
          return await fn();
        } finally {
          await rm(mutex, { force: true });
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const since = Number(await readFile(mutex, 'utf8').catch(() => '0'));
        if (this.now() - since > MUTEX_STALE_MS) await rm(mutex, { force: true });
        else await new Promise((r) => setTimeout(r, 10));
      }
    }
    throw new Error(`lease ${this.path}: the mutex stayed busy for 2 s`);
  }

  private live(r: Record | null): r is Record {
    return r !== null && this.now() - r.renewedAt < this.timeoutMs;
  }

  prepareStart(hostId: number): Promise<boolean> {
    return this.exclusive(async () => {
      const r = await this.read();
      if (this.live(r) && r.hostId !== hostId) return false;
      await this.write({ hostId, renewedAt: this.now() });
      return true;
    });
  }

  confirmHold(hostId: number): Promise<boolean> {
    return this.exclusive(async () => {
      const r = await this.read();
      if (!r || r.hostId !== hostId) return false;
      await this.write({ hostId, renewedAt: this.now() });
      return true;
    });
  }

  releaseAfterStop(hostId: number): Promise<void> {
    return this.exclusive(async () => {
      const r = await this.read();
      if (r?.hostId === hostId) await this.write(null);
    });
  }

  async holder(): Promise<LeaseHolder | null> {
    const r = await this.read();
    return this.live(r) ? r : null;
  }

  async reset(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
