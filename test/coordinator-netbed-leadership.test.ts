/**
 * The HA coordinator on the netns bed (test/coordinator-bed/README.md, "The netns topology"): issue 14's scenario 9,
 * two replicas, the leader SIGKILLed between the `off` it sent and OFF confirmed. Timings: FAST_POLICY with the power
 * status polled every 2 s after `off` (the window to kill the leader in), lease TTL 5 s, tick 500 ms. Needs root
 * and the built dist/.
 */
import { describe, it } from 'vitest';
import { withBed } from './coordinator-bed/bed.js';
import { netnsBedMissing } from './coordinator-bed/bed-net.js';
import { leaderKilledScenario, THREE_MACHINES } from './coordinator-bed/fencing-scenarios.js';

describe.skipIf(netnsBedMissing())('on machines in network namespaces, the leader killed mid-fence', () => {
  it('between `off` and OFF confirmed: the other replica confirms OFF without a second `off` and starts each HA VM once', async () => {
    await withBed(
      {
        ...THREE_MACHINES,
        replicas: 2,
        ttlSeconds: 5,
        policy: { ...THREE_MACHINES.policy, statusPollInterval: 2 },
      },
      leaderKilledScenario,
    );
  }, 360_000);
});
