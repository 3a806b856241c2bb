/**
 * The HA coordinator on the netns bed (test/coordinator-bed/README.md, "The netns topology"): issue 14's scenarios
 * on leadership, two replicas each a machine of its own: 9 the leader SIGKILLed between the `off` it sent and OFF
 * confirmed, 10 the leader frozen between two VM restarts for more than twice its lease, then resumed, 11 every
 * member of a 3-member etcd killed while a host hangs, then back. Timings: FAST_POLICY (9: the power status polled
 * every 2 s after `off`, the window to kill the leader in), lease TTL 5 s, tick 500 ms. Needs root and the built
 * dist/.
 */
import { describe, it } from 'vitest';
import { withBed } from './coordinator-bed/bed.js';
import { netnsBedMissing } from './coordinator-bed/bed-net.js';
import {
  etcdGoneScenario,
  leaderFrozenMidRestartScenario,
  leaderKilledScenario,
  THREE_MACHINES,
} from './coordinator-bed/fencing-scenarios.js';

const TTL = 5;
const TWO_REPLICAS = { ...THREE_MACHINES, replicas: 2, ttlSeconds: TTL };

describe.skipIf(netnsBedMissing())('on machines in network namespaces, the leader lost mid-fence', () => {
  it('killed between `off` and OFF confirmed: the other replica confirms OFF without a second `off` and starts each HA VM once', async () => {
    await withBed(
      { ...TWO_REPLICAS, policy: { ...THREE_MACHINES.policy, statusPollInterval: 2 } },
      leaderKilledScenario,
    );
  }, 360_000);

  it('frozen between two restarts for twice its lease: replaced; resumed, it has no side effect', async () => {
    await withBed(TWO_REPLICAS, (bed) => leaderFrozenMidRestartScenario(bed, TTL));
  }, 360_000);
});

describe.skipIf(netnsBedMissing())('on machines in network namespaces, etcd losing every member', () => {
  it('leaves no leader and no action while a host hangs; when etcd is back the flow goes on', async () => {
    await withBed({ ...TWO_REPLICAS, etcdMembers: 3 }, etcdGoneScenario);
  }, 420_000);
});
