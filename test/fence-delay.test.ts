/**
 * --delay with an injected clock: an off or a reboot does not contact the device before `delay` seconds have passed
 * since the agent started (time spent starting counts), and no other action waits at all.
 */
import { describe, expect, it } from 'vitest';
import { defineAgent, type Power } from '../src/plugins/fence/agent.js';
import { runAgent } from '../src/plugins/fence/run.js';

function fakeClock(startAt: number) {
  let t = startAt;
  const sleeps: number[] = [];
  return { sleeps, now: () => t, sleep: async (ms: number) => void (sleeps.push(ms), (t += ms)) };
}

/** Runs `action` against an in-memory device; returns the sleeps taken and when the device was first contacted. */
async function run(action: string, delay: string, elapsedAtStart: number) {
  const clock = fakeClock(1_000_000 + elapsedAtStart);
  let power: Power = 'on';
  let contacted: number | undefined;
  const agent = defineAgent<null>({
    name: 'fence_fake',
    shortdesc: 'fake',
    longdesc: 'fake',
    uses: [],
    connect: async () => {
      contacted ??= clock.now();
      return null;
    },
    getPower: async () => power,
    setPower: async (_c, _p, want) => void (power = want),
  });
  const out: string[] = [];
  const code = await runAgent(
    agent,
    { name: 'fence_fake', argv: ['-o', action, '--delay', delay], env: {}, startedAt: 1_000_000, clock },
    { out: (l) => out.push(l), err: () => {} },
  );
  return { code, out, sleeps: clock.sleeps, contactedAfter: (contacted ?? NaN) - 1_000_000 };
}

describe('--delay', () => {
  it.each(['off', 'reboot'])('%s waits until delay seconds after the start, then fences', async (action) => {
    const r = await run(action, '5', 300);
    expect(r.sleeps).toEqual([4700]);
    expect(r.contactedAfter).toBe(5000);
    expect(r.code).toBe(0);
  });

  it.each(['status', 'on', 'monitor', 'list'])('%s never waits', async (action) => {
    const r = await run(action, '5', 300);
    expect(r.sleeps).toEqual([]);
    expect(r.contactedAfter).toBe(300);
  });

  it('an off that started later than the delay does not wait; delay 0 never waits', async () => {
    expect((await run('off', '2', 2500)).sleeps).toEqual([]);
    expect((await run('off', '0', 0)).sleeps).toEqual([]);
  });

  it('fractions of a second count', async () => {
    expect((await run('reboot', '1.5', 200)).sleeps).toEqual([1300]);
  });
});
