/**
 * The broker's monitors in one place (docs/hosted-engine.md, "The monitors"): started together, read together as the
 * agent's MonitorReadings, stopped together.
 */
import type { Logger } from 'pino';
import { createCpuMonitor } from './cpu.js';
import { createNetworkMonitor } from './network.js';
import type { PeriodicMonitor } from './periodic.js';
import { createStorageMonitor } from './storage.js';
import type { MonitorOptions, MonitorReadings } from './types.js';
import { createBridgeMonitor, createEngineHealthMonitor, createMemFreeMonitor } from './vdsm.js';
import type { EngineHealth } from '../types.js';

export { createCpuMonitor, engineShareFromStats, loadWithoutEngine, parseProcStat } from './cpu.js';
export { createNetworkMonitor, dnsProbe, pingProbe, tcpProbe } from './network.js';
export { PeriodicMonitor } from './periodic.js';
export { createStorageMonitor, readProbe } from './storage.js';
export {
  checkLiveliness,
  createBridgeMonitor,
  createEngineHealthMonitor,
  createMemFreeMonitor,
  ENGINE_UNKNOWN,
  engineHealthFromLiveliness,
  engineHealthFromStats,
  engineHealthNoVm,
  isLockFailure,
  NO_SUCH_VM,
  REASON,
} from './vdsm.js';

export interface HeMonitorSet {
  network: PeriodicMonitor<number | null>;
  bridge: PeriodicMonitor<boolean | null>;
  memFree: PeriodicMonitor<number | null>;
  cpu: PeriodicMonitor<number | null>;
  engine: PeriodicMonitor<EngineHealth>;
  storage: PeriodicMonitor<boolean | null>;
}

export interface HeMonitors {
  /** The latest value of every monitor; never blocks. */
  readings(): MonitorReadings;
  /** Stops every monitor: timers cleared, rounds in flight aborted and awaited (bounded). */
  stop(): Promise<void>;
  monitors: HeMonitorSet;
}

/** Creates and starts the six monitors. Throws on a configuration that cannot work (tcp test without tcpPort). */
export function startMonitors(opts: MonitorOptions, extra: { log?: Logger } = {}): HeMonitors {
  const { vdsm, intervalMs } = opts;
  const log = extra.log;
  const monitors: HeMonitorSet = {
    network: createNetworkMonitor({
      test: opts.networkTest,
      target: opts.gateway,
      tcpPort: opts.tcpPort,
      intervalMs,
      log,
    }),
    bridge: createBridgeMonitor({ vdsm, bridge: opts.bridge, intervalMs, log }),
    memFree: createMemFreeMonitor({ vdsm, intervalMs, log }),
    cpu: createCpuMonitor({ vdsm, vmId: opts.vmId, intervalMs, log }),
    engine: createEngineHealthMonitor({ vdsm, vmId: opts.vmId, healthUrl: opts.healthUrl, intervalMs, log }),
    storage: createStorageMonitor({ path: opts.storagePath, intervalMs, log }),
  };
  const all = Object.values(monitors) as PeriodicMonitor<unknown>[];
  for (const m of all) m.start();
  return {
    monitors,
    readings: (): MonitorReadings => ({
      network: monitors.network.last(),
      bridgeUp: monitors.bridge.last(),
      memFreeMiB: monitors.memFree.last(),
      cpuLoad: monitors.cpu.last(),
      engine: monitors.engine.last(),
      storageOk: monitors.storage.last(),
    }),
    stop: async () => {
      await Promise.all(all.map((m) => m.stop()));
    },
  };
}
