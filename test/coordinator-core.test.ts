/**
 * The coordinator's pure core (src/coordinator/core/): detection, guards, proxy choice, placement, evacuation
 * policy, adoption, manual confirmation. No I/O: states and observations in, states and actions out.
 */
import { describe, expect, it } from 'vitest';
import {
  chooseProxy,
  combinePower,
  dueStarts,
  partitionView,
  placeVm,
  vmFate,
} from '../src/coordinator/core/cluster.js';
import { DEFAULT_COORDINATOR_CONFIG as CFG, graceSeconds } from '../src/coordinator/core/config.js';
import { newFlow, restoreState, step, type CoreState } from '../src/coordinator/core/step.js';
import type { Action, Command, HostSpec, HostState, Poll, Result, VmRecord } from '../src/coordinator/core/types.js';
import { NOT_IN_RECOVERY } from '../src/coordinator/core/types.js';

const spec = (id: string, cluster = 'A', pm = true): HostSpec => ({
  id,
  cluster,
  agents: pm ? [{ name: 'ipmilan', order: 1 }] : [],
});

const vm = (id: string, owner: string | null, o: Partial<VmRecord> = {}): VmRecord => ({
  id,
  ha: false,
  priority: 0,
  memMiB: 1024,
  owner,
  state: 'running',
  everUp: true,
  generation: 1,
  ...NOT_IN_RECOVERY,
  ...o,
});

const LEADER = { epoch: 7, since: 0 };

function world(hosts: HostSpec[], vms: VmRecord[] = []): CoreState {
  return restoreState({ hosts, intents: {}, vms }, 0);
}

function tick(s: CoreState, now: number, polls: Poll[] = [], o: { results?: Result[]; commands?: Command[] } = {}) {
  return step(s, { now, leader: LEADER, polls, results: o.results ?? [], commands: o.commands ?? [] }, CFG);
}

const ok = (host: string, extra: Partial<Poll> = {}): Poll => ({ host, kind: 'ping', ok: true, ...extra });
const bad = (host: string, error: 'timeout' | 'refused' = 'timeout'): Poll => ({
  host,
  kind: 'ping',
  ok: false,
  error,
});

/** Runs ticks 0..until every `every` s: host `down` fails from `from` on, the others answer. */
function run(s: CoreState, until: number, down: string, from: number, every = 2) {
  let state = s;
  const log: string[] = [];
  const actions: Action[] = [];
  for (let t = 0; t <= until; t += every) {
    const polls = Object.keys(state.hosts).map((id) => (id === down && t >= from ? bad(id) : ok(id)));
    const r = tick(state, t, polls);
    state = r.state;
    log.push(...r.log);
    actions.push(...r.actions);
  }
  return { state, log, actions };
}

function hostAt(h: Partial<HostState> & { spec: HostSpec }): HostState {
  return { ...restoreState({ hosts: [h.spec], intents: {}, vms: [] }, 0).hosts[h.spec.id]!, ...h };
}

describe('detection: NonResponsive needs BOTH the failure count AND the grace time', () => {
  it('grace is 20 s + 0.25 s per VM, capped at 45 s', () => {
    expect(graceSeconds(CFG, 0)).toBe(20);
    expect(graceSeconds(CFG, 40)).toBe(30);
    expect(graceSeconds(CFG, 1000)).toBe(45);
  });

  it('three failures within the grace time leave the host Suspect', () => {
    const { state } = run(world([spec('h1'), spec('h2'), spec('h3')]), 8, 'h1', 2);
    expect(state.hosts.h1!.failures).toBe(4);
    expect(state.hosts.h1!.status).toBe('Suspect');
  });

  it('the grace time passed with fewer than three failures leaves the host Suspect (oVirt bug: OR)', () => {
    let s = world([spec('h1'), spec('h2'), spec('h3')]);
    s = tick(s, 0, [ok('h1'), ok('h2'), ok('h3')]).state;
    s = tick(s, 30, [bad('h1'), ok('h2'), ok('h3')]).state;
    s = tick(s, 31, [bad('h1'), ok('h2'), ok('h3')]).state;
    expect(s.hosts.h1!.status).toBe('Suspect');
    s = tick(s, 32, [bad('h1'), ok('h2'), ok('h3')]).state;
    expect(s.hosts.h1!.status).toBe('NonResponsive');
  });

  it('both: NonResponsive at 20 s, its VMs Unknown, witnesses asked', () => {
    const { state, log, actions } = run(world([spec('h1'), spec('h2'), spec('h3')], [vm('v1', 'h1')]), 20, 'h1', 2);
    expect(log).toContain('h1 Suspect -> NonResponsive: 10 failed polls and 20 s without an answer (grace 20 s)');
    expect(state.vms.v1!.state).toBe('unknown');
    expect(actions.filter((a) => a.kind === 'probe').map((a) => (a.kind === 'probe' ? a.via : ''))).toEqual([
      'h2',
      'h3',
    ]);
  });

  it('VMs lengthen the grace', () => {
    const vms = Array.from({ length: 40 }, (_, i) => vm(`v${i}`, 'h1'));
    let s = world([spec('h1'), spec('h2'), spec('h3')], vms);
    s = tick(s, 0, [
      { host: 'h1', kind: 'stats', ok: true, vms: vms.map((v) => ({ id: v.id, status: 'Up' })), freeMemMiB: 1 },
    ]).state;
    for (let t = 2; t <= 28; t += 2) s = tick(s, t, [bad('h1'), ok('h2'), ok('h3')]).state;
    expect(s.hosts.h1!.status).toBe('Suspect');
    s = tick(s, 30, [bad('h1'), ok('h2'), ok('h3')]).state;
    expect(s.hosts.h1!.status).toBe('NonResponsive');
  });
});

describe('partition guard', () => {
  const h = (id: string, up: boolean) =>
    hostAt({ spec: spec(id), status: up ? 'Up' : 'NonResponsive', failures: up ? 0 : 5 });

  it('holds at 50 % of the hosts that were Up unreachable, not below', () => {
    expect(partitionView([h('a', false), h('b', false), h('c', true), h('d', true)], CFG).holds).toBe(true);
    expect(partitionView([h('a', false), h('b', true), h('c', true), h('d', true)], CFG).holds).toBe(false);
    expect(partitionView([h('a', false), h('b', true), h('c', true)], CFG).holds).toBe(false);
  });

  it('does not count hosts in maintenance or already confirmed off', () => {
    const off = hostAt({ spec: spec('x'), status: 'Down', failures: 9 });
    const maint = hostAt({ spec: spec('y'), status: 'Maintenance', failures: 9 });
    expect(partitionView([h('a', false), h('b', true), h('c', true), off, maint], CFG)).toMatchObject({
      counted: 3,
      unreachable: 1,
      holds: false,
    });
  });

  it('with two hosts the percentage gives way to the witness rule (one dead of two is not a partition)', () => {
    expect(partitionView([h('a', false), h('b', true)], CFG)).toMatchObject({ holds: false, witnessRule: true });
    expect(partitionView([h('a', false), h('b', false)], CFG).holds).toBe(true);
  });

  it('stops the fence with an audit event and alert, once', () => {
    let s = world([spec('h1'), spec('h2'), spec('h3'), spec('h4')]);
    const audits = [];
    for (let t = 0; t <= 40; t += 2) {
      const r = tick(s, t, [t >= 2 ? bad('h1') : ok('h1'), t >= 2 ? bad('h2') : ok('h2'), ok('h3'), ok('h4')]);
      s = r.state;
      audits.push(...r.audit);
      expect(r.actions.filter((a) => a.kind === 'power' || a.kind === 'probe' || a.kind === 'ssh-restart')).toEqual([]);
    }
    expect(s.hosts.h1!.status).toBe('FenceSkipped');
    expect(audits.filter((a) => a.guard === 'partition' && a.host === 'h1')).toHaveLength(1);
    expect(audits.every((a) => a.alert)).toBe(true);
  });

  it('2 hosts: the survivor is asked; if it still reaches the suspect, no fence', () => {
    let s = run(world([spec('h1'), spec('h2')]), 20, 'h1', 2).state;
    const probe = Object.values(s.hosts.h1!.flow?.witnessesPending ?? []);
    expect(probe).toEqual(['h2']);
    const id = 0; // probe results are matched by witness, not id
    const r = tick(s, 22, [bad('h1'), ok('h2')], {
      results: [{ kind: 'probe', id, host: 'h1', via: 'h2', reached: true }],
    });
    s = r.state;
    expect(s.hosts.h1!.status).toBe('FenceSkipped');
    expect(r.audit).toMatchObject([{ guard: 'witness', host: 'h1', alert: true }]);
    expect(r.actions.some((a) => a.kind === 'power' || a.kind === 'write-fence')).toBe(false);
  });

  it('a new leader fences nothing before one TTL and a full poll round', () => {
    let s = world([spec('h1'), spec('h2'), spec('h3')]);
    // The leader starts at 0; h1 never answers and no poll ever reaches h3: no full round.
    const r0 = [];
    for (let t = 0; t <= 30; t += 2) {
      const r = tick(s, t, [bad('h1'), ok('h2')]);
      s = r.state;
      r0.push(...r.audit);
    }
    expect(s.hosts.h1!.status).toBe('FenceSkipped');
    expect(r0.map((a) => a.guard)).toEqual(['new-leader']);
    // h3 answers once: the round is complete, the TTL long past: the witnesses are asked.
    const r = tick(s, 32, [bad('h1'), ok('h2'), ok('h3')]);
    expect(r.actions.filter((a) => a.kind === 'probe')).toHaveLength(2);
  });
});

describe('proxy choice', () => {
  const up = (id: string, cluster = 'A') => hostAt({ spec: spec(id, cluster) });
  const target = hostAt({ spec: spec('t', 'A'), status: 'HardFencing', failures: 3 });

  it('an Up host of the same cluster, never the target', () => {
    expect(chooseProxy([target, up('b', 'B'), up('c', 'A')], target, [], 0, CFG)).toBe('c');
  });
  it('another cluster when the own has nobody Up; null when nobody', () => {
    const down = hostAt({ spec: spec('c', 'A'), status: 'Suspect', failures: 1 });
    expect(chooseProxy([target, down, up('b', 'B')], target, [], 0, CFG)).toBe('b');
    expect(chooseProxy([target, down], target, [], 0, CFG)).toBeNull();
  });
  it('skips the proxies that already failed', () => {
    expect(chooseProxy([target, up('c'), up('d')], target, ['c'], 0, CFG)).toBe('d');
  });
  it('a concurrent group is OFF only when every agent says OFF', () => {
    expect(combinePower(['off', 'off'])).toBe('off');
    expect(combinePower(['off', 'on'])).toBe('on');
    expect(combinePower(['off', 'error'])).toBe('error');
    expect(combinePower(['skipped', 'skipped'])).toBe('skipped');
  });
});

describe('VM placement, priorities, evacuation policy', () => {
  const up = (id: string, freeMemMiB: number, vmsSeen: string[] = []) =>
    hostAt({ spec: spec(id), freeMemMiB, vmsSeen });

  it('places on an Up host with enough free memory, fewest VMs first', () => {
    const hosts = [up('a', 4096, ['x', 'y']), up('b', 4096, ['z']), up('c', 512)];
    expect(placeVm(hosts, vm('v', null, { memMiB: 2048 }), {})).toBe('b');
    expect(placeVm(hosts, vm('v', null, { memMiB: 2048 }), { b: { count: 2, memMiB: 3000 } })).toBe('a');
    expect(placeVm(hosts, vm('v', null, { memMiB: 8192 }), {})).toBeNull();
    expect(placeVm(hosts, vm('v', null, { memMiB: 100 }), {}, ['c'])).toBe('b');
  });

  it('lower priorities wait for higher ones, at most 600 s', () => {
    const q = (id: string, priority: number, o: Partial<VmRecord> = {}) =>
      vm(id, null, { priority, restart: true, state: 'down', queuedAt: 0, nextTryAt: 0, ...o });
    const vms = [q('low', 1), q('high', 90), q('mid', 50)];
    expect(dueStarts(vms, 0, CFG).map((v) => v.id)).toEqual(['high']);
    // high is starting (not yet Up): mid still waits
    const starting = [q('low', 1), q('high', 90, { state: 'starting', startSentAt: 0 }), q('mid', 50)];
    expect(dueStarts(starting, 10, CFG).map((v) => v.id)).toEqual([]);
    expect(dueStarts(starting, 600, CFG).map((v) => v.id)).toEqual(['mid', 'low']);
  });

  it('ha-only restarts HA VMs only; all: running back running, stopped re-homed, error only if ever Up', () => {
    const all = { ...CFG, evacuation: { B: 'all' as const } };
    expect(vmFate(vm('ha', 'h', { ha: true }), 'A', CFG)).toBe('restart');
    expect(vmFate(vm('plain', 'h'), 'A', CFG)).toBe('mark-down');
    expect(vmFate(vm('stopped', 'h', { state: 'stopped' }), 'A', CFG)).toBe('mark-down');
    expect(vmFate(vm('plain', 'h', { state: 'unknown' }), 'B', all)).toBe('restart');
    expect(vmFate(vm('stopped', 'h', { state: 'stopped', everUp: false }), 'B', all)).toBe('rehome');
    expect(vmFate(vm('err', 'h', { state: 'error', everUp: true }), 'B', all)).toBe('rehome');
    expect(vmFate(vm('err', 'h', { state: 'error', everUp: false }), 'B', all)).toBe('mark-down');
    expect(vmFate(vm('down', 'h', { state: 'down' }), 'B', all)).toBe('mark-down');
  });
});

describe('recovery after OFF is confirmed', () => {
  function confirmed() {
    const s = world(
      [spec('h1'), spec('h2'), spec('h3')],
      [vm('ha1', 'h1', { ha: true, priority: 10 }), vm('plain', 'h1')],
    );
    for (const id of ['h2', 'h3']) Object.assign(s.hosts[id]!, { freeMemMiB: 8192 });
    Object.assign(s.hosts.h1!, { status: 'NonResponsive', failures: 9 });
    return tick(s, 100, [bad('h1'), ok('h2'), ok('h3')], {
      commands: [{ kind: 'confirm-rebooted', host: 'h1', by: 'alice' }],
    });
  }

  it('confirm-rebooted is refused unless the host is NonResponsive or its fence failed', () => {
    const s = world([spec('h1'), spec('h2'), spec('h3')]);
    const r = tick(s, 5, [ok('h1'), ok('h2'), ok('h3')], {
      commands: [{ kind: 'confirm-rebooted', host: 'h1', by: 'bob' }],
    });
    expect(r.state.hosts.h1!.status).toBe('Up');
    expect(r.audit[0]!.text).toMatch(/refused: host is Up/);
    expect(r.actions).toEqual([]);
  });

  it('confirm-rebooted records who and when, marks every VM Down and queues the HA ones', () => {
    const r = confirmed();
    expect(r.state.hosts.h1!.manual).toEqual({ by: 'alice', at: 100 });
    expect(r.audit[0]).toMatchObject({ kind: 'command', alert: true });
    expect(r.actions[0]).toMatchObject({
      kind: 'write-fence',
      host: 'h1',
      intent: { phase: 'off-confirmed', manual: { by: 'alice' } },
    });
    expect(r.state.vms.ha1).toMatchObject({ state: 'down', restart: true, owner: null, from: 'h1' });
    expect(r.state.vms.plain).toMatchObject({ state: 'down', restart: false });
    expect(r.actions.some((a) => a.kind === 'power')).toBe(false); // a manual confirm sends no power-on
    expect(r.actions.some((a) => a.kind === 'scan')).toBe(true); // the lists first, never a blind VM.create
  });

  it('a VM found running on a reachable host is adopted, not started twice', () => {
    const r = confirmed();
    const scan = r.actions.find((a) => a.kind === 'scan');
    const r2 = tick(r.state, 101, [], {
      results: [
        {
          kind: 'scan',
          id: scan!.kind === 'scan' ? scan!.id : 0,
          lists: { h2: [], h3: [{ id: 'ha1', status: 'Up' }] },
        },
      ],
    });
    expect(r2.actions.some((a) => a.kind === 'start-vm')).toBe(false);
    expect(r2.state.vms.ha1).toMatchObject({ owner: 'h3', state: 'running', restart: false });
  });

  it('otherwise the HA VM is started on a placed host', () => {
    const r = confirmed();
    const scan = r.actions.find((a) => a.kind === 'scan');
    const r2 = tick(r.state, 101, [], {
      results: [{ kind: 'scan', id: scan!.kind === 'scan' ? scan!.id : 0, lists: { h2: [], h3: [] } }],
    });
    expect(r2.actions.filter((a) => a.kind === 'start-vm')).toMatchObject([{ vm: 'ha1', host: 'h2' }]);
    expect(r2.state.vms.ha1).toMatchObject({ owner: 'h2', state: 'starting', generation: 3 });
  });

  it('a failed start is retried 30 s later, ten times, then every 30 min', () => {
    let s = confirmed().state;
    let now = 101;
    for (let i = 0; i < 11; i++) {
      s.vms.ha1 = { ...s.vms.ha1!, owner: 'h2', state: 'starting', startSentAt: now };
      const r = tick(s, now, [], { results: [{ kind: 'start-vm', id: 0, vm: 'ha1', host: 'h2', ok: false }] });
      s = r.state;
      expect(s.vms.ha1!.nextTryAt).toBe(now + (i < 10 ? 30 : 1800));
      now += 1;
    }
  });
});

describe('flapping', () => {
  it('a host back Up more than 3 times in 10 min gets 180 s between power actions', () => {
    const s = tick(world([spec('h1'), spec('h2'), spec('h3')]), 0, [ok('h1'), ok('h2'), ok('h3')]).state;
    Object.assign(s.hosts.h1!, {
      status: 'HardFencing',
      failures: 5,
      lastOk: 0,
      returns: [100, 200, 300, 400],
      lastPowerAt: 450,
      flow: { ...newFlow('off', 460), proxy: 'h2' },
    });
    const r = tick(s, 500, [bad('h1'), ok('h2'), ok('h3')]);
    expect(r.actions.filter((a) => a.kind === 'power')).toEqual([]);
    expect(r.audit).toMatchObject([{ guard: 'flapping', host: 'h1', alert: true }]);
    const r2 = tick(r.state, 631, [bad('h1'), ok('h2'), ok('h3')]);
    expect(r2.actions.filter((a) => a.kind === 'power')).toMatchObject([{ op: 'off', host: 'h1', proxy: 'h2' }]);
  });

  it('three returns are not flapping', () => {
    const s = tick(world([spec('h1'), spec('h2'), spec('h3')]), 0, [ok('h1'), ok('h2'), ok('h3')]).state;
    Object.assign(s.hosts.h1!, {
      status: 'HardFencing',
      failures: 5,
      lastOk: 0,
      returns: [200, 300, 400],
      lastPowerAt: 450,
      flow: { ...newFlow('off', 460), proxy: 'h2' },
    });
    expect(tick(s, 500, [bad('h1'), ok('h2'), ok('h3')]).actions.filter((a) => a.kind === 'power')).toHaveLength(1);
  });
});

describe('no leader, no action', () => {
  it('a step without leadership returns no actions', () => {
    const s = run(world([spec('h1'), spec('h2'), spec('h3')]), 20, 'h1', 2).state;
    const r = step(s, { now: 22, leader: null, polls: [bad('h1')], results: [], commands: [] }, CFG);
    expect(r.actions).toEqual([]);
    expect(r.state.epoch).toBeNull();
  });
});
