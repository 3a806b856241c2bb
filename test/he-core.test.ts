import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/hosted-engine/config.js';
import { INITIAL_STATE, step, type AgentState } from '../src/hosted-engine/fsm.js';
import { meanCpuLoad } from '../src/hosted-engine/liveness.js';
import { hostScore } from '../src/hosted-engine/score.js';
import type { HostBlock, Observations } from '../src/hosted-engine/types.js';

const healthy: Observations = {
  now: 1000,
  globalMaintenance: false,
  localMaintenance: false,
  network: 1,
  bridgeUp: true,
  memFreeMiB: 32768,
  cpuLoad: 0.1,
  engine: { vm: 'down', health: 'bad', detail: 'unknown', reason: 'vm not running on this host' },
  remote: [],
  configUpToDate: true,
  engineMemMiB: 4096,
};
const score = (
  obs: Partial<Observations>,
  state: Parameters<typeof hostScore>[0]['state'] = 'EngineDown',
  retries = 0,
  cpuLoad: number | null = null,
) => hostScore({ state, obs: { ...healthy, ...obs }, cpuLoad, retries }, DEFAULT_CONFIG).score;

describe('host score (docs/hosted-engine.md, "The score")', () => {
  it("starts at 3400 and takes upstream's penalties", () => {
    expect(score({})).toBe(3400);
    expect(score({ network: 0.6 })).toBe(3400 - 640);
    expect(score({ bridgeUp: false })).toBe(2800);
    expect(score({}, 'EngineDown', 0, 0.8)).toBe(3400 - 800);
    expect(score({}, 'EngineDown', 0, 0.95)).toBe(2400); // clamped at the full 1000
    expect(score({ memFreeMiB: 1024 })).toBe(3000);
    expect(score({ memFreeMiB: 1024 }, 'EngineUp')).toBe(3400); // the VM already holds its memory here
    expect(score({ configUpToDate: false })).toBe(2400);
    expect(score({}, 'EngineDown', 2)).toBe(3300);
  });

  it('is 0 in the forced-zero states, after more than 3 failed starts, and with no network at all', () => {
    for (const s of [
      'LocalMaintenance',
      'EngineUnexpectedlyDown',
      'ReinitializeFSM',
      'StartState',
      'AgentStopped',
    ] as const)
      expect(score({}, s)).toBe(0);
    expect(score({}, 'EngineDown', 4)).toBe(0);
    expect(score({ network: 0 })).toBe(0);
    expect(score({ network: null })).toBe(0);
  });

  it('treats an unknown bridge as down (upstream reads vdsmd trouble as "up")', () => {
    expect(score({ bridgeUp: null })).toBe(2800);
  });

  it('never goes below 0', () => {
    expect(score({ network: 0.05, bridgeUp: false, memFreeMiB: 1, configUpToDate: false }, 'EngineDown', 3, 1)).toBe(0);
  });

  it('weighs CPU load by time (trapezoid over the history)', () => {
    expect(
      meanCpuLoad([
        { at: 20, hostTs: {}, cpuLoad: 1 },
        { at: 10, hostTs: {}, cpuLoad: 0 },
        { at: 0, hostTs: {}, cpuLoad: 0 },
      ]),
    ).toBeCloseTo(0.25);
  });
});

/** Ticks one agent alone every 10 s from `from` to `to`, starting from `state`. */
function run(state: AgentState, from: number, to: number, obs: (t: number, s: AgentState) => Partial<Observations>) {
  const log: string[] = [];
  const actions: string[] = [];
  for (let t = from; t <= to; t += 10) {
    for (let i = 0; i < 5; i++) {
      const r = step(state, { ...healthy, now: t, ...obs(t, state) }, DEFAULT_CONFIG);
      log.push(...r.log.map((l) => `${t} ${l}`));
      actions.push(...r.actions.map((a) => `${t} ${a}`));
      state = r.state;
      if (r.wait) break;
    }
  }
  return { state, log, actions };
}

describe('agent state machine (docs/hosted-engine.md, "The state machine")', () => {
  it('waits for 60 s of history before it starts the VM alone', () => {
    const r = run(INITIAL_STATE, 0, 100, () => ({}));
    expect(r.actions[0]).toBe('60 start-vm');
  });

  it('counts failed starts: 4 failures give score 0 and stop the attempts; they expire 600 s after the last', () => {
    const scores: number[] = [];
    let state = INITIAL_STATE;
    const starts: number[] = [];
    for (let t = 0; t <= 1400; t += 10) {
      for (let i = 0; i < 5; i++) {
        const r = step(
          state,
          {
            ...healthy,
            now: t,
            result: state.pending === 'start-vm' ? { kind: 'start-vm', ok: false, detail: 'vdsmd says no' } : undefined,
          },
          DEFAULT_CONFIG,
        );
        if (r.actions.includes('start-vm')) starts.push(t);
        scores.push(r.score);
        state = r.state;
        if (r.wait) break;
      }
    }
    expect(starts.slice(0, 4)).toEqual([60, 70, 80, 90]);
    // Each answer comes back within its tick; the 4th failure (t=90) gives 0: no start until 600 s after it.
    expect(starts[4]).toBe(690);
    expect(scores).toContain(0);
  });

  it('a start not tried because another host holds the lease: back to EngineDown, no failed start counted', () => {
    let state = INITIAL_STATE;
    const log: string[] = [];
    for (let t = 0; t <= 200; t += 10) {
      for (let i = 0; i < 5; i++) {
        const r = step(
          state,
          {
            ...healthy,
            now: t,
            result:
              state.pending === 'start-vm'
                ? { kind: 'start-vm', ok: true, detail: 'lease held elsewhere', leaseHeldBy: 2 }
                : undefined,
          },
          DEFAULT_CONFIG,
        );
        log.push(...r.log.map((l) => `${t} ${l}`));
        state = r.state;
        if (r.wait) break;
      }
    }
    expect(log).toContain('60 EngineStart -> EngineDown: engine VM lease held by host 2');
    expect(log.filter((l) => l.endsWith('EngineDown -> EngineStart: best score (3400)')).length).toBeGreaterThan(10);
    expect(state.retries).toBe(0);
  });

  it('global maintenance from any state; it ends through ReinitializeFSM', () => {
    const r = run(INITIAL_STATE, 0, 60, (t) => ({ globalMaintenance: t >= 20 && t < 50 }));
    expect(r.log).toContain('20 EngineDown -> GlobalMaintenance: global maintenance');
    expect(r.log).toContain('50 GlobalMaintenance -> ReinitializeFSM: global maintenance ended');
  });

  it('a running engine that goes unexpectedly down drops the score to 0 for 560 s', () => {
    const up = { vm: 'up', health: 'good', detail: 'Up' } as const;
    const r = run(INITIAL_STATE, 0, 800, (t) => ({
      engine: t < 100 ? up : { vm: 'down_unexpected', health: 'bad', detail: 'Down' },
    }));
    expect(r.log).toContain('100 EngineUp -> EngineUnexpectedlyDown: engine VM died');
    expect(r.log.some((l) => /^(67|68)0 EngineUnexpectedlyDown -> EngineDown: timeout of 560 s/.test(l))).toBe(true);
  });

  it('does not start while a live host reports the engine VM up, and yields to a host 800 points better once the lead held 45 s', () => {
    const other = (t: number, score: number, vm: 'up' | 'down'): HostBlock => ({
      hostId: 2,
      hostTs: t,
      score,
      engineStatus:
        vm === 'up' ? { vm: 'up', health: 'good', detail: 'Up' } : { vm: 'down', health: 'bad', detail: 'Down' },
      hostname: 'h2',
      maintenance: false,
      stopped: false,
      confOnSharedStorage: true,
      localConfTimestamp: 0,
      state: 'EngineDown',
    });
    const waiting = run(INITIAL_STATE, 0, 200, (t) => ({ remote: [other(t, 3400, 'up')] }));
    expect(waiting.actions).toEqual([]);
    const up = { vm: 'up', health: 'good', detail: 'Up' } as const;
    const yielding = run(INITIAL_STATE, 0, 200, (t) => ({
      engine: up,
      cpuLoad: 1,
      remote: [other(t, t >= 100 ? 3400 : 2000, 'down')],
    }));
    expect(yielding.actions.filter((a) => a.endsWith('stop-vm'))).toHaveLength(1);
    expect(yielding.log.find((l) => l.includes('EngineUp -> EngineStop'))).toMatch(/^1[45]0 /);
  });
});
