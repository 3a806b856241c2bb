/** Setting a bed up as an admin would: hosts added, VMs defined and started where the scenario wants them. */
import type { Bed, BedVm } from './bed.js';

export interface VmPlan {
  name: string;
  ha: boolean;
  priority?: number;
  memMiB?: number;
}

/**
 * `host add` for every host; once the leader has them Up, each host's VMs defined, and once the leader knows them,
 * started there (`vm start --host`). Waits until the leader and the sampler agree that all of it runs.
 */
export async function populate(bed: Bed, plan: Record<string, VmPlan[]>): Promise<Record<string, BedVm[]>> {
  const leader = await bed.leader();
  await bed.addHosts();
  await bed.until(
    'the leader to have every host Up',
    async () => {
      const hosts = await bed.hostViews(leader).catch(() => []);
      return hosts.length === bed.hosts.length && hosts.every((h) => h.state === 'Up');
    },
    60_000,
  );
  const out: Record<string, BedVm[]> = {};
  for (const [host, vms] of Object.entries(plan)) {
    out[host] = [];
    for (const p of vms) out[host].push(await bed.defineVm(p.name, p));
  }
  const all = Object.values(out).flat();
  await bed.until(
    'the leader to know every VM defined',
    async () => {
      const known = new Set((await bed.vmViews(leader).catch(() => [])).map((v) => v.id));
      return all.every((v) => known.has(v.id));
    },
    60_000,
  );
  for (const [host, vms] of Object.entries(out)) for (const vm of vms) await bed.startVm(vm, host);
  await bed.settle();
  return out;
}

/** The fencing scenarios' VMs (and the lab's): two HA VMs and a plain one on host1, one HA VM on host2, a plain one on host3. */
export const plan = () => ({
  host1: [
    { name: 'h1-ha-a', ha: true, priority: 60 },
    { name: 'h1-ha-b', ha: true, priority: 40 },
    { name: 'h1-plain', ha: false },
  ],
  host2: [{ name: 'h2-ha', ha: true }],
  host3: [{ name: 'h3-plain', ha: false }],
});
