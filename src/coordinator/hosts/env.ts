/**
 * The host calls of CoordinatorEnv on HostLinks and SoftFence, for the service to compose with the store half:
 * it supplies the inventory records, the saved domain XML and the current leader term's signal.
 */
import type { CoordinatorEnv } from '../core/env.js';
import type { HostRecord } from '../inventory/records.js';
import type { SoftFence } from '../ssh/restart.js';
import type { HostLinks } from './links.js';

export type HostEnv = Pick<
  CoordinatorEnv,
  | 'ping'
  | 'stats'
  | 'probe'
  | 'fence'
  | 'sshRestart'
  | 'listVms'
  | 'createVm'
  | 'destroyVm'
  | 'stopVm'
  | 'setHaMaintenance'
>;

export interface HostEnvDeps {
  links: HostLinks;
  softFence: SoftFence;
  /** The leader term's signal (an aborted one when not leading). */
  signal(): AbortSignal;
  /** The host's inventory record (fence agents, SSH settings). */
  host(id: string): HostRecord | undefined;
  /** The VM's saved domain XML. */
  vmXml(id: string): Promise<string | undefined>;
}

export function hostEnv(d: HostEnvDeps): HostEnv {
  const { links } = d;
  return {
    ping: (host) => links.ping(host, d.signal()),
    stats: (host) => links.stats(host, d.signal()),
    probe: (via, target) => links.probe(via, target, d.signal()),
    fence: async (proxy, target, ref, op) => {
      const record = d.host(target);
      const agent = record?.agents.find((a) => a.name === ref.name);
      if (!agent) return 'error';
      return links.fence(proxy, target, agent, op, d.signal(), record?.storageHostIds);
    },
    sshRestart: async (host) => {
      const record = d.host(host);
      if (!record) return { ok: false, detail: `host ${host} is not in the inventory` };
      return d.softFence.restart(record, d.signal());
    },
    listVms: (host) => links.listVms(host, d.signal()),
    createVm: async (host, vm) => {
      const signal = d.signal();
      const xml = await d.vmXml(vm.id);
      if (xml === undefined) return { ok: false, detail: `no saved definition for VM ${vm.id}` };
      return links.createVm(host, { id: vm.id, xml }, signal);
    },
    destroyVm: (host, vm) => links.destroyVm(host, vm, d.signal()),
    stopVm: (host, vm) => links.stopVm(host, vm, d.signal()),
    setHaMaintenance: (host, on) => links.setHaMaintenance(host, on, d.signal()),
  };
}
