/**
 * The hosted-engine failure plan, part one (see he-failover.ts for the bed and the safety rules): the faults that
 * sanlock decides. Another host asking for the engine VM while it runs (refused by the lease), the running host's
 * storage lost (sanlock kills the VM there), the running host killed (another host starts the VM once sanlock calls
 * it dead, 68 s), and a new lockspace written by --reinitialize-lockspace.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { nowhere } from './cluster.js';
import { failoverBed, seconds } from './he-failover.js';
import { runCommand } from '../support/run-command.js';
import { pollUntil } from '../support/wait.js';

const bed = failoverBed('he-failover-lease');

describe('hosted-engine HA on three real hosts: the faults sanlock decides', () => {
  bed.startsOnOneHost();

  it(
    'sanlock refuses a second start: another host asks for the engine VM while it runs; libvirt fails to acquire the lease and one QEMU runs',
    () => bed.secondStart(),
    240_000,
  );

  // Unknowns expected on the victim only: its libvirtd may hang on the lost storage. They must never overlap
  // with another host running the engine VM (that sample would prove nothing): running + unknown ≤ 1 holds.
  it('storage lost on the running host: sanlock kills the engine VM there; another host starts it once the lease is free', async () => {
    const victim = await bed.settled();
    const at = Date.now();
    await bed.c.faults.cutStorage(victim);
    try {
      await bed.c.until(
        'the engine VM gone from the host without storage',
        (s) => !s.running.includes(victim) && !s.unknown.includes(victim),
        60_000,
      );
      console.log(
        `he-failover-lease: storage lost: sanlock stopped the engine VM on host ${victim} after ${seconds(Date.now() - at)} s`,
      );
      await bed.recovery('storage lost on the running host', at, victim, {
        elsewhere: true,
        timeoutMs: 240_000,
        faulted: [victim],
      });
    } finally {
      await bed.c.faults.restoreStorage(victim);
    }
    // The broker joins the lockspace again by itself once the storage is back.
    await pollUntil(
      () =>
        bed.c.broker(victim).then(
          (s) => s.lockspace?.joined === true,
          () => false,
        ),
      60_000,
      500,
    );
    expect((await bed.c.broker(victim)).lockspace?.joined).toBe(true);
  }, 400_000);

  it('running host killed (every process and its namespace): another host starts the engine VM once sanlock says the host is dead', async () => {
    const victim = await bed.settled();
    const at = Date.now();
    // Unknowns expected on the victim only, from its libvirtd's death until every process of it is gone (then it
    // is dead and no longer asked); another host may start the engine VM only 68 s later.
    await bed.c.faults.killHost(victim);
    await bed.recovery('running host killed', at, victim, { elsewhere: true, timeoutMs: 240_000, faulted: [victim] });
    // The dead host's metadata can be cleaned now that sanlock knows it dead; a live host's cannot.
    const survivor = bed.c.last().running[0]!;
    const live = bed.c.hosts.find((h) => !h.dead && h.id !== survivor)!;
    const refused = await bed.c.hostedEngine(survivor, ['--clean-metadata', `--host-id=${live.id}`, '--force-cleanup']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(`host ${live.id} is LIVE in the sanlock lockspace`);
    const cleaned = await bed.c.hostedEngine(survivor, ['--clean-metadata', `--host-id=${victim}`, '--force-cleanup']);
    expect(cleaned.code, cleaned.stderr).toBe(0);
    const status = JSON.parse((await bed.c.hostedEngine(survivor, ['--vm-status', '--json'])).stdout) as Record<
      string,
      unknown
    >;
    expect(status[String(victim)]).toBeUndefined();
  }, 400_000);

  it('--reinitialize-lockspace: refused while agents run; with the engine VM off and the agents stopped it writes a fresh lockspace that the hosts rejoin', async () => {
    const owner = await bed.settled();
    const at = Date.now();
    const live = bed.c.hosts.filter((h) => !h.dead);
    const refused = await bed.c.hostedEngine(owner, ['--reinitialize-lockspace']);
    expect([refused.code, refused.stderr.trim()]).toEqual([
      1,
      'hosted-engine: Lockspace reinitialization is possible in global maintenance mode only',
    ]);
    expect((await bed.c.hostedEngine(owner, ['--set-maintenance', '--mode=global'])).code).toBe(0);
    expect((await bed.c.hostedEngine(owner, ['--vm-poweroff'])).code).toBe(0);
    await bed.c.until('the engine VM off', nowhere, 30_000);
    for (const h of live) await bed.c.stopAgent(h.id);
    const lockspace = join(live[0]!.storage.mountpoint, 'hosted-engine.lockspace');
    const before = await runCommand('sanlock', ['direct', 'dump', lockspace]);
    expect(before.stdout).toMatch(/hosted-engine/);
    const reinit = await bed.c.hostedEngine(owner, ['--reinitialize-lockspace']);
    expect(reinit.code, reinit.stderr).toBe(0);
    // The brokers notice that sanlock dropped them (their host-id leases were overwritten) and join again.
    const deadline = Date.now() + 90_000;
    for (const h of live) {
      await pollUntil(
        () =>
          bed.c.broker(h.id).then(
            (s) => s.lockspace?.joined === true && s.lockspace.error === null,
            () => false,
          ),
        Math.max(0, deadline - Date.now()),
        500,
      );
    }
    for (const h of live) bed.c.startAgent(h.id);
    expect((await bed.c.hostedEngine(owner, ['--set-maintenance', '--mode=none'])).code).toBe(0);
    await bed.settled();
    bed.expectSafe('reinitialize-lockspace', bed.c.safety(at));
  }, 300_000);

  bed.neverTwice();
});
