/**
 * The HA coordinator on the netns bed (test/coordinator-bed/README.md, "The netns topology"): the fencing scenario of
 * test/coordinator-e2e-fencing.test.ts whose fault is a process, run with every host, BMC, etcd member and replica
 * a machine of its own, so that the coordinator reaches hosts, SSH and BMC proxies over a network. Timings:
 * FAST_POLICY, lease TTL 5 s, tick 500 ms. Needs root and the built dist/.
 */
import { describe, it } from 'vitest';
import { withBed } from './coordinator-bed/bed.js';
import { netnsBedMissing } from './coordinator-bed/bed-net.js';
import { vdsmdKilledScenario } from './coordinator-bed/fencing-scenarios.js';
import { FAST_POLICY } from './coordinator-bed/policy.js';

const THREE_MACHINES = {
  hosts: 3,
  replicas: 1,
  etcdMembers: 1 as const,
  policy: FAST_POLICY,
  topology: 'netns' as const,
};

describe.skipIf(netnsBedMissing())(
  'on machines in network namespaces, a host whose vdsmd is killed (host fine, BMC on)',
  () => {
    it('is soft-fenced over SSH: its vdsmd restarted, back Up, its VMs untouched and no power action', async () => {
      await withBed(THREE_MACHINES, vdsmdKilledScenario);
    }, 300_000);
  },
);
