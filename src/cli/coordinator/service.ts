/**
 * What `vdsm-ts-coordinator serve` runs, composed in this one place. Today: the HTTP API over the CoordinatorApi
 * it is given, with the metrics. The integrator adds here, in order: etcd (embedded or the configured endpoints),
 * the Leadership, the store (its CoordinatorApi), the hosts' Env wrapped by `instrumentEnv(env, metrics)`, and the
 * Coordinator driver with `(r) => metrics.recordStep(r, env.now())` as its onStep; `close` stops them in reverse.
 */
import type { Logger } from 'pino';
import { ApiError, type CoordinatorApi } from '../../coordinator/api/api.js';
import { startApiServer } from '../../coordinator/api/server.js';
import { CoordinatorMetrics } from '../../coordinator/observe/metrics.js';
import type { CoordinatorCliConfig } from './config.js';

export interface CoordinatorServiceDeps {
  api: CoordinatorApi;
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
  const metrics = deps.metrics ?? new CoordinatorMetrics();
  const server = await startApiServer(
    { api: deps.api, metrics },
    { host: config.listen, port: config.port, log: deps.log },
  );
  return { port: server.port, metrics, close: () => server.close() };
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
