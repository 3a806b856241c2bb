import { existsSync } from 'node:fs';
import { HA_NOT_CONFIGURED, type HaStatus, type HaStatusProvider } from '../common/ha-status.js';
import { VdsmError } from '../common/errors.js';
import { brokerClient } from './broker/client.js';
import { readConf } from './conf.js';

/**
 * vdsmd's view of hosted-engine HA (haStats in Host.getStats, Host.setHaMaintenanceMode), through the local
 * broker, as vdsm does through HAClient. Without hosted-engine.conf, HA is "not configured".
 */
export function brokerHaStatus(confPath: string): HaStatusProvider {
  const conf = () => (existsSync(confPath) ? readConf(confPath) : undefined);
  return {
    status: async (): Promise<HaStatus> => {
      const c = conf();
      if (!c) return HA_NOT_CONFIGURED.status();
      try {
        const s = await brokerClient(c.brokerSocket).call('status', {}, { timeoutMs: 5000 });
        const own = s.hosts.find((b) => b.hostId === c.hostId);
        return {
          configured: true,
          active: s.alive !== null && own !== undefined && !own.stopped,
          score: own?.score ?? 0,
          globalMaintenance: s.globalMaintenance,
          localMaintenance: own?.maintenance ?? s.localMaintenance,
        };
      } catch {
        // Configured, but the broker does not answer: not active (vdsm reports its defaults then).
        return { configured: true, active: false, score: 0, globalMaintenance: false, localMaintenance: false };
      }
    },
    setMaintenance: async (mode, enabled) => {
      const c = conf();
      if (!c) return HA_NOT_CONFIGURED.setMaintenance(mode, enabled);
      try {
        await brokerClient(c.brokerSocket).call(
          'setMaintenance',
          { mode: mode === 'GLOBAL' ? 'global' : 'local', enabled },
          { timeoutMs: 60_000 },
        );
      } catch (err) {
        throw VdsmError.of('haErr', { reason: (err as Error).message });
      }
    },
  };
}
