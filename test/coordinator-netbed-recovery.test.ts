/**
 * The HA coordinator on the netns bed (test/coordinator-bed/README.md, "The netns topology"): issue 14's scenarios
 * on what comes back after a host is lost: 5 power lost with the BMC dead (nothing restarted until a person confirms
 * the host is off), 6 evacuation policy `all` on a host powered off through its BMC, with one VM of each kind on it
 * (running HA, running plain, stopped, crashed after it ran, refused by libvirt at its first start). Timings:
 * FAST_POLICY (6: with `default_evacuation = all`), lease TTL 5 s, tick 500 ms. Needs root and the built dist/.
 */
import { describe, it } from 'vitest';
import { withBed } from './coordinator-bed/bed.js';
import { netnsBedMissing } from './coordinator-bed/bed-net.js';
import { bmcDeadScenario, evacuationAllScenario, THREE_MACHINES } from './coordinator-bed/fencing-scenarios.js';

describe.skipIf(netnsBedMissing())('on machines in network namespaces, a host whose power is lost with its BMC', () => {
  it('restarts nothing and raises an alert until a person confirms the reboot; then its HA VMs start elsewhere', async () => {
    await withBed(THREE_MACHINES, bmcDeadScenario);
  }, 300_000);
});

describe.skipIf(netnsBedMissing())('on machines in network namespaces, evacuation policy `all`', () => {
  it('a host powered off: running VMs back running (HA first), stopped and once-Up error VMs re-homed, a never-Up one Down', async () => {
    await withBed(
      { ...THREE_MACHINES, policy: { ...THREE_MACHINES.policy, defaultEvacuation: 'all' } },
      evacuationAllScenario,
    );
  }, 360_000);
});
