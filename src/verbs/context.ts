import type { HostStatsSampler } from '../host/stats.js';
import type { ClientTls } from '../rpc/client.js';
import type { FenceAgent } from '../plugins/fence/agent.js';
import type { VmManager } from '../virt/manager.js';
import { VdsmError } from '../common/errors.js';
import type { HaStatusProvider } from '../common/ha-status.js';
import type { Logger } from 'pino';

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
  /** This host's own key, certificate and CA, used as a client of peer vdsmds (Host.probePeer); absent: plaintext. */
  peerTls?: ClientTls;
  /** Told of every Host.fenceNode: the agent (or unknown), the action and its outcome (docs/metrics.md). */
  onFenceAction?: (agent: string, action: string, outcome: string) => void;
  /** Local address the request arrived on (vdsm reports the NIC owning it as `lastClientIface`). */
  localAddress?: string;
}

/** The VM container, or vdsm's 99 while it is not there yet. */
export function vmsOf(ctx: VerbContext): VmManager {
  if (!ctx.vms) throw VdsmError.of('recovery');
  return ctx.vms;
}
