/**
 * The hosted-engine failure plan, part two (see he-failover.ts for the bed and the safety rules): the faults the
 * agents' monitors decide. The engine VM killed, its service or its network down, vdsmd killed, the running host's
 * network cut, every host's network cut.
 */
import { describe, expect, it } from 'vitest';
import { nowhere } from './cluster.js';
import { sleep } from '../support/wait.js';
import { failoverBed, stayedOn } from './he-failover.js';

const bed = failoverBed('he-failover-agents');

describe('hosted-engine HA on three real hosts: the faults the agents decide', () => {
  bed.startsOnOneHost();

  // Killing QEMU leaves every libvirtd answering: no unknown is expected anywhere (the same in every scenario
  // below that does not say otherwise).
  it('engine VM killed: another host starts it', async () => {
    const victim = await bed.settled();
    const at = Date.now();
    await bed.c.faults.killVm(victim);
    await bed.recovery('engine VM killed', at, victim, { elsewhere: true });
  }, 300_000);

  // The engine VM runs on, but nobody reaches a healthy engine: the agent stops it (the VM must first go away),
  // and a new instance comes up healthy.
  for (const t of [
    {
      title: 'engine service down (bad health): the engine VM is restarted and healthy again',
      scenario: 'engine service down',
      gone: 'the unhealthy engine VM stopped',
      fault: () => bed.c.faults.engineService(false),
    },
    {
      title: 'engine VM network down: the engine VM is restarted and reachable again',
      scenario: 'engine VM network down',
      gone: 'the unreachable engine VM stopped',
      fault: () => bed.c.faults.engineNetwork(false),
    },
  ]) {
    it(
      t.title,
      async () => {
        const victim = await bed.settled();
        const at = Date.now();
        t.fault();
        await bed.c.until(t.gone, nowhere, 120_000);
        await bed.recovery(t.scenario, at, victim);
      },
      300_000,
    );
  }

  it('vdsmd killed (restarted 2 s later, as systemd does): the engine VM keeps running where it is', async () => {
    const victim = await bed.settled();
    const at = Date.now();
    await bed.c.faults.killVdsmd(victim, 2000);
    const host = await bed.recovery('vdsmd killed', at, victim);
    expect(host).toBe(victim);
    expect(stayedOn(bed.c.samplesSince(at), victim), 'the engine VM never stopped').toBe(true);
  }, 300_000);

  // The sampler asks libvirt through its unix socket, from outside the namespace: a cut link does not blind it.
  it("running host's network cut: the engine VM moves to a host with network", async () => {
    const victim = await bed.settled();
    const at = Date.now();
    await bed.c.faults.cutNetwork(victim);
    try {
      await bed.recovery("running host's network cut", at, victim, { elsewhere: true });
    } finally {
      await bed.c.faults.restoreNetwork(victim);
    }
  }, 300_000);

  it('all hosts lose their network: nobody starts or stops the engine VM; it is healthy once the network returns', async () => {
    const victim = await bed.settled();
    const at = Date.now();
    for (const h of bed.c.hosts) await bed.c.faults.cutNetwork(h.id);
    try {
      await sleep(20_000);
      expect(stayedOn(bed.c.samplesSince(at), victim), 'the engine VM stayed where it was').toBe(true);
      bed.expectSafe('all networks cut (20 s)', bed.c.safety(at));
    } finally {
      for (const h of bed.c.hosts) await bed.c.faults.restoreNetwork(h.id);
    }
    // Timed from the network's return; no sample since the fault may show the engine VM twice.
    await bed.recovery('all networks cut for 20 s (from restore)', Date.now(), victim);
    bed.expectSafe('all networks cut, cut to recovery', bed.c.safety(at));
  }, 300_000);

  bed.neverTwice();
});
