/**
 * The HA coordinator on the netns bed (test/coordinator-bed/README.md, "The netns topology"): issue 14's scenarios
 * whose point is the rule that decides whether to fence at all: 7 the coordinator cut from every host while the
 * hosts are fine among themselves (the partition guard holds: nothing is fenced), 8 half of four hosts cut at once
 * (the same guard: 2 of 4 is the 50 % threshold), 12 a two-host cluster that loses
 * one host (the witness rule lets the survivor's word count: it is fenced). Split from
 * coordinator-netbed-fencing.test.ts so that the two files run side by side. Timings: FAST_POLICY, lease TTL 5 s,
 * tick 500 ms. Needs root and the built dist/.
 */
import { describe, it } from 'vitest';
import { withBed } from './coordinator-bed/bed.js';
import { netnsBedMissing } from './coordinator-bed/bed-net.js';
import {
  coordinatorCutScenario,
  halfUnreachableScenario,
  THREE_MACHINES,
  twoHostsScenario,
} from './coordinator-bed/fencing-scenarios.js';

describe.skipIf(netnsBedMissing())('on machines in network namespaces, the coordinator cut from every host', () => {
  it('fences nothing (the partition guard holds, in the audit trail); the hosts are Up again with their VMs after', async () => {
    await withBed(THREE_MACHINES, coordinatorCutScenario);
  }, 300_000);
});

describe.skipIf(netnsBedMissing())('on four machines in network namespaces, half of them cut at once', () => {
  it('fences nothing (the partition guard holds, in the audit trail); both are Up again with their VMs after', async () => {
    await withBed({ ...THREE_MACHINES, hosts: 4 }, halfUnreachableScenario);
  }, 300_000);
});

describe.skipIf(netnsBedMissing())('on two machines, one whose power is lost with its BMC alive', () => {
  it('is fenced (the survivor cannot reach it) and its HA VM starts on the other', async () => {
    await withBed({ ...THREE_MACHINES, hosts: 2 }, twoHostsScenario);
  }, 300_000);
});
