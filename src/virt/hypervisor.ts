/** What vdsmd needs from a hypervisor; the libvirt implementation is in libvirt.ts. */

/** virDomainState. */
export const DomainState = {
  NoState: 0,
  Running: 1,
  Blocked: 2,
  Paused: 3,
  ShuttingDown: 4,
  Shutoff: 5,
  Crashed: 6,
  PmSuspended: 7,
} as const;

/** virDomainEventType (lifecycle events). */
export const LifecycleEventType = {
  Defined: 0,
  Undefined: 1,
  Started: 2,
  Suspended: 3,
  Resumed: 4,
  Stopped: 5,
  Shutdown: 6,
  PmSuspended: 7,
  Crashed: 8,
} as const;

/** virDomainEventStoppedDetailType. */
export const StoppedDetail = {
  Shutdown: 0,
  Destroyed: 1,
  Crashed: 2,
  Migrated: 3,
  Saved: 4,
  Failed: 5,
  FromSnapshot: 6,
} as const;

/** virDomainEventShutdownDetailType. */
export const ShutdownDetail = { Finished: 0, Guest: 1, Host: 2 } as const;

/** virDomainEventSuspendedDetailType values vdsm tells apart. */
export const SuspendedDetail = {
  Paused: 0,
  Migrated: 1,
  IoError: 2,
  Watchdog: 3,
  Restored: 4,
  FromSnapshot: 5,
  ApiError: 6,
  PostcopyFailed: 8,
} as const;

export interface DomainSummary {
  uuid: string;
  name: string;
  id: number;
  state: number;
  reason: number;
  persistent: boolean;
}

export interface DomainInfo {
  state: number;
  maxMemKiB: number;
  memoryKiB: number;
  vcpus: number;
  cpuTimeNs: number;
}

export interface DomainStatsRecord {
  uuid: string;
  name: string;
  stats: Record<string, number | string>;
}

export interface LifecycleEvent {
  uuid: string;
  name: string;
  event: number;
  detail: number;
  /** Monotonic ms (process.hrtime's clock) when the hypervisor reported it. */
  at: number;
}

export type ShutdownMethod = 'default' | 'acpi' | 'agent';

export interface Hypervisor {
  readonly uri: string;
  /** The libvirt library version, "major.minor.release". */
  readonly libvirtVersion: string;
  listDomains(): Promise<DomainSummary[]>;
  lookup(uuid: string): Promise<DomainSummary>;
  domainXml(uuid: string): Promise<string>;
  /** Starts a transient domain, as vdsm does; it vanishes from the hypervisor when it stops. */
  createTransient(xml: string, options?: { paused?: boolean }): Promise<DomainSummary>;
  define(xml: string): Promise<DomainSummary>;
  undefine(uuid: string): Promise<void>;
  start(uuid: string): Promise<void>;
  destroy(uuid: string, options?: { graceful?: boolean }): Promise<void>;
  shutdown(uuid: string, method?: ShutdownMethod): Promise<void>;
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;
  info(uuid: string): Promise<DomainInfo>;
  allDomainStats(): Promise<DomainStatsRecord[]>;
  onLifecycle(listener: (event: LifecycleEvent) => void): void;
  /** Called once if the connection to the hypervisor is lost. */
  onClose(listener: (reason: string) => void): void;
  close(): Promise<void>;
}

/** A hypervisor failure with libvirt's error number (virErrorNumber) and domain (virErrorDomain). */
export class LibvirtError extends Error {
  override name = 'LibvirtError';
  constructor(
    message: string,
    readonly code: number,
    readonly domain: number,
  ) {
    super(message);
  }
}

/** virErrorNumber values we act on (virterror.h). */
export const LibvirtErrorCode = {
  InternalError: 1,
  NoSupport: 3,
  NoConnect: 5,
  InvalidArg: 8,
  OperationFailed: 9,
  XmlError: 27,
  XmlDetail: 35,
  SystemError: 38,
  NoDomain: 42,
  AuthFailed: 45,
  OperationInvalid: 55,
  ArgumentUnsupported: 74,
  OperationUnsupported: 84,
} as const;
