/**
 * The HA coordinator on the netns bed (test/coordinator-bed/README.md, "The netns topology"): issue 14's fencing
 * scenarios with every host, BMC, etcd member and replica a machine of its own, so that the coordinator reaches
 * hosts, SSH and BMC proxies over a network and a fault happens where it happens: 1 vdsmd killed, 2 management link
 * cut, 3 host frozen, 4 power lost behind a live BMC (7 and 12 in coordinator-netbed-guards.test.ts). Each prints its timeline (t0 fault … last VM Up) and judges
 * its fault window from the sampler, fail closed (test/coordinator-bed/evidence.ts, windowSafety). Timings:
 * FAST_POLICY, lease TTL 5 s, tick 500 ms. Needs root and the built dist/.
 */
import { describe, it } from 'vitest';
import { withBed } from './coordinator-bed/bed.js';
import { netnsBedMissing } from './coordinator-bed/bed-net.js';
import {
  frozenHostScenario,
  networkCutScenario,
  powerLossScenario,
  vdsmdKilledScenario,
  THREE_MACHINES,
} from './coordinator-bed/fencing-scenarios.js';

describe.skipIf(netnsBedMissing())(
  'on machines in network namespaces, a host whose vdsmd is killed (host fine, BMC on)',
  () => {
    it('is soft-fenced over SSH: its vdsmd restarted, back Up, its VMs untouched and no power action', async () => {
      await withBed(THREE_MACHINES, vdsmdKilledScenario);
    }, 300_000);
  },
);

describe.skipIf(netnsBedMissing())('on machines in network namespaces, a host that cannot be reached', () => {
  it('network cut, BMC reachable: SSH fails, a peer powers it off, its HA VMs start elsewhere once; it rejoins empty', async () => {
    await withBed(THREE_MACHINES, networkCutScenario);
  }, 300_000);

  it('frozen, BMC reachable: fenced the same way; thawing it finds nothing left to run twice', async () => {
    await withBed(THREE_MACHINES, frozenHostScenario);
  }, 300_000);
});

describe.skipIf(netnsBedMissing())(
  'on machines in network namespaces, a host whose power is lost, its BMC alive',
  () => {
    it('is read OFF: no SSH, no power action; its HA VMs start elsewhere once; powered on, it rejoins empty', async () => {
      await withBed(THREE_MACHINES, powerLossScenario);
    }, 300_000);
  },
);
