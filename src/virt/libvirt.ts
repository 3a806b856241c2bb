import { forDriver } from './domxml.js';
import {
  DomainState,
  LibvirtError,
  LibvirtErrorCode,
  type DomainStatsRecord,
  type Hypervisor,
  type LifecycleEvent,
  type ShutdownMethod,
} from './hypervisor.js';
import { nativeLibvirt, type NativeConnection } from './native.js';

const START_PAUSED = 1;
const DESTROY_GRACEFUL = 1;
const SHUTDOWN_FLAGS: Record<ShutdownMethod, number> = { default: 0, acpi: 1, agent: 2 };
const CLOSE_REASONS = ['error', 'end of file', 'keepalive timeout', 'client closed'];

/** The addon's errors carry libvirt's numbers as plain properties; give them a class. */
function typed(err: unknown): never {
  const e = err as Error & { libvirtCode?: number; libvirtDomain?: number };
  if (typeof e?.libvirtCode === 'number') throw new LibvirtError(e.message, e.libvirtCode, e.libvirtDomain ?? 0);
  throw err;
}

/** libvirt refused a call's flags (a driver without that feature), not the call itself. */
function flagsRefused(err: unknown): boolean {
  return (
    err instanceof LibvirtError &&
    [LibvirtErrorCode.InvalidArg, LibvirtErrorCode.ArgumentUnsupported, LibvirtErrorCode.NoSupport].includes(
      err.code as never,
    )
  );
}

const ACTIVE: readonly number[] = [DomainState.Running, DomainState.Blocked, DomainState.Paused];

async function call<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    return typed(err);
  }
}

/** Opens a libvirt connection: `test:///default` (in process), `qemu:///system`, `qemu+unix:///system?socket=…`. */
export async function openLibvirt(uri: string): Promise<Hypervisor> {
  const lifecycle = new Set<(event: LifecycleEvent) => void>();
  let closeReason: string | undefined;
  const closeListeners = new Set<(reason: string) => void>();
  const conn = await call(() =>
    nativeLibvirt().open(
      uri,
      // libvirt tracks one registration per callback and event type: fan out here.
      (event) => {
        for (const listener of lifecycle) listener(event);
      },
      (reason) => {
        closeReason = CLOSE_REASONS[reason] ?? `reason ${reason}`;
        for (const listener of closeListeners) listener(closeReason);
      },
    ),
  );
  return new LibvirtHypervisor(uri, conn, lifecycle, (listener) => {
    if (closeReason !== undefined) listener(closeReason);
    else closeListeners.add(listener);
  });
}

class LibvirtHypervisor implements Hypervisor {
  readonly libvirtVersion: string;

  constructor(
    readonly uri: string,
    private readonly conn: NativeConnection,
    private readonly lifecycleListeners: Set<(event: LifecycleEvent) => void>,
    readonly onClose: (listener: (reason: string) => void) => void,
  ) {
    const v = nativeLibvirt().libvirtVersion();
    this.libvirtVersion = `${Math.floor(v / 1e6)}.${Math.floor(v / 1e3) % 1000}.${v % 1000}`;
  }

  listDomains = () => call(() => this.conn.listDomains());
  lookup = (uuid: string) => call(() => this.conn.lookup(uuid));
  domainXml = (uuid: string) => call(() => this.conn.xml(uuid, 0));
  /**
   * The driver adaptations live here, so the VM container never needs to know the driver: libvirt's test driver
   * runs only type='test' domains and cannot start one paused (it is paused right after instead).
   */
  createTransient = async (xml: string, options: { paused?: boolean } = {}) => {
    const own = forDriver(xml, this.uri);
    try {
      return await call(() => this.conn.createXml(own, options.paused ? START_PAUSED : 0));
    } catch (err) {
      if (!options.paused || !flagsRefused(err)) throw err;
      const created = await call(() => this.conn.createXml(own, 0));
      await this.suspend(created.uuid);
      return this.lookup(created.uuid);
    }
  };
  define = (xml: string) => call(() => this.conn.define(xml));
  undefine = (uuid: string) => call(() => this.conn.undefine(uuid, 0));
  start = (uuid: string) => call(() => this.conn.start(uuid, 0));
  destroy = (uuid: string, options: { graceful?: boolean } = {}) =>
    call(() => this.conn.destroy(uuid, options.graceful ? DESTROY_GRACEFUL : 0));
  /** A driver that takes no method flags (libvirt's test driver) is given its default for the ACPI button. */
  shutdown = async (uuid: string, method: ShutdownMethod = 'default') => {
    try {
      await call(() => this.conn.shutdown(uuid, SHUTDOWN_FLAGS[method]));
    } catch (err) {
      if (method !== 'acpi' || !flagsRefused(err)) throw err;
      await call(() => this.conn.shutdown(uuid, SHUTDOWN_FLAGS.default));
    }
  };
  suspend = (uuid: string) => call(() => this.conn.suspend(uuid));
  resume = (uuid: string) => call(() => this.conn.resume(uuid));
  info = (uuid: string) => call(() => this.conn.info(uuid));
  /**
   * Every stats group the driver supports, for every domain, in one call (vdsm's bulk sampling). Drivers without
   * bulk CPU/memory groups (libvirt's test driver) still answer virDomainGetInfo for the running ones.
   */
  allDomainStats = async (): Promise<DomainStatsRecord[]> => {
    const records = await call(() => this.conn.allDomainStats(0, 0));
    await Promise.all(
      records.map(async (record) => {
        if (record.stats['cpu.time'] !== undefined || !ACTIVE.includes(Number(record.stats['state.state']))) return;
        const info = await this.info(record.uuid).catch(() => undefined);
        if (info)
          Object.assign(record.stats, {
            'cpu.time': info.cpuTimeNs,
            'balloon.current': info.memoryKiB,
            'vcpu.current': info.vcpus,
          });
      }),
    );
    return records;
  };

  onLifecycle(listener: (event: LifecycleEvent) => void): void {
    this.lifecycleListeners.add(listener);
  }

  close = () => call(() => this.conn.close());
}
