import type { EngineHealth } from '../types.js';

/** How a monitor reaches vdsmd: one JSON-RPC call (VdsmClient.call fits). Rejects on RPC errors (with `code`). */
export type VdsmCall = (
  method: string,
  params?: Record<string, unknown>,
  options?: { timeoutMs?: number },
) => Promise<unknown>;

/** The broker's monitors' latest readings, as the agent turns them into Observations. null: no result (yet). */
export interface MonitorReadings {
  /** Fraction of the last round of network probes that succeeded, 0..1. */
  network: number | null;
  bridgeUp: boolean | null;
  memFreeMiB: number | null;
  /** Host CPU load without the engine VM's share, 0..1. */
  cpuLoad: number | null;
  engine: EngineHealth;
  /** The shared storage answers (the whiteboard path can be read). */
  storageOk: boolean | null;
}

/** One periodic check; `last()` never blocks and never throws. */
export interface Monitor<T> {
  readonly name: string;
  start(): void;
  last(): T;
  stop(): Promise<void>;
}

export type NetworkTest = 'ping' | 'dns' | 'tcp' | 'none';

export interface MonitorOptions {
  vdsm: VdsmCall;
  /** The engine VM's id. */
  vmId: string;
  /** Management bridge name as vdsmd reports it in Host.getStats network (e.g. ovirtmgmt). */
  bridge: string;
  networkTest: NetworkTest;
  /** ping: the gateway address; dns: the name server to query; tcp: the host to connect to. */
  gateway: string;
  tcpPort?: number;
  /** The engine's health page, e.g. http://engine.example/ovirt-engine/services/health. */
  healthUrl: string;
  /** Path on shared storage that must be readable (the whiteboard file). */
  storagePath: string;
  /** Period of each monitor, ms (upstream: 10 s). */
  intervalMs: number;
}
