/**
 * The HA coordinator against real peers on loopback (test/coordinator-bed/): vdsmd processes with mutual TLS on the
 * libvirt test driver, ipmi_sim BMCs whose power-off really stops their host, an OpenSSH sshd per host whose command
 * restarts that host's vdsmd, etcd, and `vdsm-ts-coordinator serve` as a process, set up through its CLI. A sampler
 * asks every host what it runs every 500 ms: a VM on two hosts in one sample fails the scenario. Here the hang of
 * vdsmd alone (SIGSTOP: its port accepts, nothing answers); issue 14's scenarios run on the netns topology of the
 * same bed (test/coordinator-netbed-*.test.ts). Timings: FAST_POLICY (test/coordinator-bed/policy.ts), lease TTL
 * 5 s, tick 500 ms.
 */
import { describe, expect, it } from 'vitest';
import { withBed } from './coordinator-bed/bed.js';
import { rpcCalls } from './coordinator-bed/evidence.js';
import { expectRecovered, plan, transitions, untilFencedAndRestarted } from './coordinator-bed/fencing-scenarios.js';
import { FAST_POLICY } from './coordinator-bed/policy.js';
import { populate } from './coordinator-bed/populate.js';
import { fenceTimeline, printTimeline } from './coordinator-bed/timeline.js';

const THREE_HOSTS = { hosts: 3, replicas: 1, etcdMembers: 1 as const, policy: FAST_POLICY };

describe('a host that hangs (vdsmd frozen) with its BMC answering', () => {
  it('is powered off through a proxy once no witness reaches it; its HA VMs start on the other hosts exactly once', async () => {
    await withBed(THREE_HOSTS, async (bed) => {
      const vms = await populate(bed, plan());
      const t0 = Date.now();
      bed.host('host1').freeze();

      const ha = vms.host1!.filter((v) => v.ha);
      await untilFencedAndRestarted(bed, 'host1', ha, t0);
      await new Promise((r) => setTimeout(r, 5000));
      printTimeline(
        'host hangs, BMC answers',
        t0,
        await fenceTimeline(
          bed,
          'host1',
          t0,
          ha.map((v) => v.id),
        ),
      );

      expect(transitions(bed)).toEqual({ host1: ['power 0'], host2: [], host3: [] });
      expect(bed.host('host1').alive()).toBe(false);
      // the power-off went through a proxy: one of the other hosts' vdsmd ran Host.fenceNode
      const fence = rpcCalls(bed, 'Host.fenceNode', t0);
      expect(fence.host1).toBe(0);
      expect(fence.host2! + fence.host3!).toBeGreaterThan(0);
      // timeouts, not a refused port: no SSH restart was tried
      expect(bed.desk.served).toEqual([]);
      await expectRecovered(bed, vms, t0);
    });
  }, 300_000);
});
