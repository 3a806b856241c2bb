import type { HostStatsSampler } from '../host/stats.js';
import type { FenceAgent } from '../plugins/fence/agent.js';
import type { VmManager } from '../virt/manager.js';
import { VdsmError } from './errors.js';
import type { Logger } from 'pino';

/** The hosted-engine HA status block (`haStats` on the wire), schema HostedEngineStatus in vdsm-api.yml. */
export interface HaStatus {
  configured: boolean;
  active: boolean;
  score: number;
  globalMaintenance: boolean;
  localMaintenance: boolean;
}

export type HaMaintenanceMode = 'GLOBAL' | 'LOCAL';

/** Host.getStats and Host.setHaMaintenanceMode talk to hosted-engine HA through this; the HA issue fills it. */
export interface HaStatusProvider {
  status(): Promise<HaStatus>;
  /** Throws VdsmError 40 (unavail) when HA is not installed, 61 (haErr) when the HA service fails. */
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

/** What a verb handler may use: long-lived services of the host, plus facts about the current request. */
export interface VerbContext {
  ha: HaStatusProvider;
  /** Fence agents this host can run for Host.fenceNode, by every name they answer to (none when absent). */
  fence?: { agents: Map<string, FenceAgent<unknown>> };
  log: Logger;
  /** The host's statistics sampler (Host.getStats): one per service, so CPU windows span the engine's polls. */
  hostStats: HostStatsSampler;
  /** The VM container; absent until libvirt is connected and recovery is done (callers then get 99). */
  vms?: VmManager;
  /** Local address the request arrived on (vdsm reports the NIC owning it as `lastClientIface`). */
  localAddress?: string;
}

/** The VM container, or vdsm's 99 while it is not there yet. */
export function vmsOf(ctx: VerbContext): VmManager {
  if (!ctx.vms) throw VdsmError.of('recovery');
  return ctx.vms;
}
