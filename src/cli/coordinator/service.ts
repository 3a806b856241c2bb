/**
 * What `vdsm-ts-coordinator serve` runs, composed in this one place: a replica (src/coordinator/runtime/replica.ts:
 * etcd, leadership, store, hosts, the driver, its metrics) and the HTTP API over that replica's CoordinatorApi;
 * `close` stops them in reverse.
 */
import type { Logger } from 'pino';
import { ApiError, type CoordinatorApi } from '../../coordinator/api/api.js';
import { startApiServer } from '../../coordinator/api/server.js';
import { CoordinatorMetrics } from '../../coordinator/observe/metrics.js';
import { type Replica, startReplica } from '../../coordinator/runtime/replica.js';
import type { CoordinatorCliConfig } from './config.js';
import type { ServeConfig } from './serve-config.js';

export interface CoordinatorServiceDeps {
  /** A replica is started from this (etcd, leadership, store, hosts, the driver), and its API served. */
  serve?: ServeConfig;
  /** Served as is when no `serve` is given (tests of the HTTP layer). */
  api?: CoordinatorApi;
  log: Logger;
  /** The service's metrics (a fresh registry unless given: tests read the one they pass). */
  metrics?: CoordinatorMetrics;
}

export interface CoordinatorService {
  /** The API's port (the configured one, or the one picked for 0). */
  port: number;
  metrics: CoordinatorMetrics;
  close(): Promise<void>;
}

export async function startCoordinatorService(
  config: Pick<CoordinatorCliConfig, 'listen' | 'port'>,
  deps: CoordinatorServiceDeps,
): Promise<CoordinatorService> {
  let replica: Replica | undefined;
  if (deps.serve) replica = await startReplica(deps.serve, deps.log);
  const metrics = replica?.metrics ?? deps.metrics ?? new CoordinatorMetrics();
  try {
    const server = await startApiServer(
      { api: replica?.api ?? deps.api ?? unwiredApi(), metrics },
      { host: config.listen, port: config.port, log: deps.log },
    );
    return {
      port: server.port,
      metrics,
      close: async () => {
        await server.close();
        await replica?.close();
      },
    };
  } catch (err) {
    await replica?.close();
    throw err;
  }
}

/**
 * The CoordinatorApi `serve` has until the store is wired in: /health says etcd is not reached, everything else
 * answers 503 with the reason.
 */
export function unwiredApi(): CoordinatorApi {
  const unavailable = (): never => {
    throw new ApiError('unavailable', 'this coordinator is not connected to its store yet (etcd is not wired in)');
  };
  return {
    health: () => Promise.resolve({ ok: false, role: 'follower', epoch: null, etcd: false }),
    status: async () => unavailable(),
    hosts: async () => unavailable(),
    vms: async () => unavailable(),
    events: async () => unavailable(),
    followEvents: () => unavailable(),
    addHost: async () => unavailable(),
    removeHost: async () => unavailable(),
    setMaintenance: async () => unavailable(),
    confirmRebooted: async () => unavailable(),
    setGlobalMaintenance: async () => unavailable(),
    defineVm: async () => unavailable(),
    startVm: async () => unavailable(),
    stopVm: async () => unavailable(),
    removeVm: async () => unavailable(),
  };
}
