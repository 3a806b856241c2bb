/**
 * The fencing scenarios' shared parts, run on either topology of the bed (loopback, netns): the VM plan, what the
 * peers saw, and scenario 1 (vdsmd killed, host fine → soft fence) with its assertions (vitest's expect, so only test
 * files import this).
 */
import { expect } from 'vitest';
import type { Bed } from './bed.js';
import { rpcCalls, whereSeen, whereUpNow } from './evidence.js';
import { populate } from './populate.js';
import { fenceTimeline, printTimeline } from './timeline.js';

export const plan = () => ({
  host1: [
    { name: 'h1-ha-a', ha: true, priority: 60 },
    { name: 'h1-ha-b', ha: true, priority: 40 },
    { name: 'h1-plain', ha: false },
  ],
  host2: [{ name: 'h2-ha', ha: true }],
  host3: [{ name: 'h3-plain', ha: false }],
});

export const transitions = (bed: Bed) =>
  Object.fromEntries(bed.hosts.map((h) => [h.name, bed.bmc(h.name).transitions()]));

/** Waits until `host`'s BMC carried out a power off, then until each of `ha` is Up on another host since `since`. */
export async function untilFencedAndRestarted(bed: Bed, host: string, ha: { id: string }[], since: number) {
  await bed.until(
    `the BMC of ${host} to carry out a power off`,
    () => bed.bmc(host).transitions().includes('power 0'),
    120_000,
  );
  await bed.until(
    `the HA VMs of ${host} Up on another host`,
    () => ha.every((v) => bed.sampler.firstUp(v.id, since, [host])),
    120_000,
  );
}

export async function hostState(bed: Bed, host: string): Promise<string | null | undefined> {
  return (await bed.hostViews().catch(() => [])).find((h) => h.id === host)?.state;
}

/**
 * vdsmd killed on host1, the host otherwise fine: soft-fenced over SSH (its vdsmd restarted), back Up, its VMs
 * untouched and no power action.
 */
export async function vdsmdKilledScenario(bed: Bed): Promise<void> {
  const vms = await populate(bed, plan());
  const t0 = Date.now();
  await bed.host('host1').kill();

  await bed.until('a restart request for host1 served', () => bed.desk.served.some((r) => r.host === 'host1'), 90_000);
  await bed.until(
    'host1 Up again at the leader, listing its VMs',
    async () =>
      (await hostState(bed, 'host1')) === 'Up' &&
      Object.values(whereUpNow(bed, vms.host1!)).every((on) => on.includes('host1')),
    60_000,
  );
  // a few more poll rounds, to see that nothing else follows
  await new Promise((r) => setTimeout(r, 5000));
  printTimeline('vdsmd killed', t0, await fenceTimeline(bed, 'host1', t0, []));

  expect(bed.desk.served.map((r) => [r.host, r.command, r.ok])).toEqual([
    ['host1', '/usr/bin/vdsm-tool service-restart vdsmd', true],
  ]);
  expect(transitions(bed)).toEqual({ host1: [], host2: [], host3: [] });
  const everyVm = Object.values(vms).flat();
  expect(whereSeen(bed, everyVm, 0)).toEqual({
    'h1-ha-a': ['host1'],
    'h1-ha-b': ['host1'],
    'h1-plain': ['host1'],
    'h2-ha': ['host2'],
    'h3-plain': ['host3'],
  });
  expect(whereUpNow(bed, vms.host1!)).toEqual({
    'h1-ha-a': ['host1'],
    'h1-ha-b': ['host1'],
    'h1-plain': ['host1'],
  });
  expect(rpcCalls(bed, 'VM.create', t0)).toEqual({ host1: 0, host2: 0, host3: 0 });
  expect(rpcCalls(bed, 'VM.destroy', t0)).toEqual({ host1: 0, host2: 0, host3: 0 });
}
