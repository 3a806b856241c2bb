import { VdsmError } from './errors.js';

/** The hosted-engine HA status block (`haStats` on the wire), schema HostedEngineStatus in vdsm-api.yml. */
export interface HaStatus {
  configured: boolean;
  active: boolean;
  score: number;
  globalMaintenance: boolean;
  localMaintenance: boolean;
}

export type HaMaintenanceMode = 'GLOBAL' | 'LOCAL';

/**
 * Host.getStats and Host.setHaMaintenanceMode talk to hosted-engine HA through this. vdsmd passes `brokerHaStatus`
 * (src/hosted-engine/vdsm-ha-status.ts), which asks the local HA broker when hosted-engine.conf exists; a service
 * started without a provider gets HA_NOT_CONFIGURED.
 */
export interface HaStatusProvider {
  status(): Promise<HaStatus>;
  /** Throws VdsmError 40 (unavail) when HA is not configured on this host, 61 (haErr) when the HA service fails. */
  setMaintenance(mode: HaMaintenanceMode, enabled: boolean): Promise<void>;
}

/** HA absent: vdsm reports all-false/0 and answers maintenance requests with 40 "Resource unavailable". */
export const HA_NOT_CONFIGURED: HaStatusProvider = {
  setMaintenance: async () => {
    throw VdsmError.of('unavail', { reason: 'hosted-engine HA is not configured on this host' });
  },
  status: async () => ({
    configured: false,
    active: false,
    score: 0,
    globalMaintenance: false,
    localMaintenance: false,
  }),
};
