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
import type {
  Action,
  Command,
  HaSeen,
  HostSpec,
  HostState,
  Poll,
  Result,
  VmRecord,
} from '../src/coordinator/core/types.js';
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
    expect(audits.filter((a) => a.kind === 'guard').every((a) => a.alert)).toBe(true);
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

  it('nobody can tell (real vdsm hosts have no Host.probePeer): 3 hosts fence on, 2 hosts hold (no-witness)', () => {
    const cannotTell = (hosts: HostSpec[], others: string[]) => {
      const s = run(world(hosts), 20, 'h1', 2).state;
      expect(s.hosts.h1!.flow?.witnessesPending.sort()).toEqual(others);
      const results: Result[] = others.map((via) => ({ kind: 'probe', id: 0, host: 'h1', via, reached: null }));
      const polls = hosts.map((h) => (h.id === 'h1' ? bad('h1') : ok(h.id)));
      return tick(s, 26, polls, { results });
    };
    const three = cannotTell([spec('h1'), spec('h2'), spec('h3')], ['h2', 'h3']);
    expect(three.state.hosts.h1!.status).toBe('SoftFencing');
    expect(three.actions).toContainEqual(expect.objectContaining({ kind: 'write-fence', host: 'h1' }));
    const two = cannotTell([spec('h1'), spec('h2')], ['h2']);
    expect(two.state.hosts.h1!.status).toBe('FenceSkipped');
    expect(two.audit).toMatchObject([{ guard: 'no-witness', host: 'h1' }]);
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
    expect(r0.filter((a) => a.kind === 'guard').map((a) => a.guard)).toEqual(['new-leader']);
    expect(r0.filter((a) => a.kind === 'fence').map((a) => a.text)).toEqual([
      expect.stringMatching(/^Suspect -> NonResponsive: /),
    ]);
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
  it("follows the host's proxy preference, in its order (the engine's cluster / dc sources)", () => {
    const hosts = (t: typeof target) => [t, up('b', 'B'), up('c', 'A')];
    const pref = (...p: ('cluster' | 'dc')[]) => ({ ...target, spec: { ...target.spec, proxyPreference: p } });
    // dc first: any cluster, by id
    expect(chooseProxy(hosts(pref('dc', 'cluster')), pref('dc', 'cluster'), [], 0, CFG)).toBe('b');
    // cluster only: never another cluster, even when the own has nobody left
    expect(chooseProxy(hosts(pref('cluster')), pref('cluster'), ['c'], 0, CFG)).toBeNull();
    expect(chooseProxy(hosts(pref('cluster', 'dc')), pref('cluster', 'dc'), ['c'], 0, CFG)).toBe('b');
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

  it('restarts run in parallel, at most 10 in flight per target host; the rest start as those come Up', () => {
    const many = Array.from({ length: 25 }, (_, i) =>
      vm(`ha${String(i).padStart(2, '0')}`, 'h1', { ha: true, memMiB: 64 }),
    );
    const s = world([spec('h1'), spec('h2'), spec('h3')], many);
    for (const id of ['h2', 'h3']) Object.assign(s.hosts[id]!, { freeMemMiB: 65_536 });
    Object.assign(s.hosts.h1!, { status: 'NonResponsive', failures: 9 });
    const r = tick(s, 100, [bad('h1'), ok('h2'), ok('h3')], {
      commands: [{ kind: 'confirm-rebooted', host: 'h1', by: 'alice' }],
    });
    const scanOf = (x: { actions: Action[] }) => x.actions.find((a) => a.kind === 'scan');
    const scanned = (state: CoreState, now: number, id: number) =>
      tick(state, now, [], { results: [{ kind: 'scan', id, lists: { h2: [], h3: [] } }] });
    const first = scanned(r.state, 101, scanOf(r)!.kind === 'scan' ? (scanOf(r) as { id: number }).id : 0);
    const starts = first.actions.filter((a) => a.kind === 'start-vm') as { host: string; vm: string }[];
    expect(starts).toHaveLength(20);
    expect(starts.filter((a) => a.host === 'h2')).toHaveLength(10);
    // Ten come Up on h2: its next scan places five more there, none on h3 (still ten in flight).
    const up = starts.filter((a) => a.host === 'h2').map((a) => ({ id: a.vm, status: 'Up' }));
    let next = tick(first.state, 104, [{ host: 'h2', kind: 'stats', ok: true, vms: up, freeMemMiB: 60_000 }]);
    for (let t = 105; !scanOf(next) && t < 140; t++) next = tick(next.state, t, [ok('h2'), ok('h3')]);
    const again = scanned(next.state, 141, (scanOf(next) as { id: number }).id);
    const more = again.actions.filter((a) => a.kind === 'start-vm') as { host: string }[];
    expect(more).toHaveLength(5);
    expect(more.every((a) => a.host === 'h2')).toBe(true);
  });

  it('a VM started on a named host waits while that host has its fill of starts in flight; never elsewhere', () => {
    const busy = Array.from({ length: 10 }, (_, i) =>
      vm(`b${i}`, 'h2', { state: 'starting', startSentAt: 99, memMiB: 64 }),
    );
    const s = world([spec('h1'), spec('h2'), spec('h3')], [...busy, vm('web', 'h2', { state: 'stopped', memMiB: 64 })]);
    for (const id of ['h1', 'h2', 'h3']) Object.assign(s.hosts[id]!, { freeMemMiB: 65_536 });
    for (const b of busy) s.vms[b.id]!.startSentAt = 99; // restoreState forgets when a start was sent
    s.roundDoneAt = 0;
    const r = tick(s, 100, [ok('h1'), ok('h2'), ok('h3')], {
      commands: [{ kind: 'vm-start', vm: 'web', host: 'h2', by: 'alice' }],
    });
    const scan = r.actions.find((a) => a.kind === 'scan') as { id: number } | undefined;
    expect(scan).toBeDefined();
    const r2 = tick(r.state, 101, [], { results: [{ kind: 'scan', id: scan!.id, lists: { h1: [], h2: [], h3: [] } }] });
    expect(r2.actions.filter((a) => a.kind === 'start-vm')).toEqual([]);
    expect(r2.state.vms.web).toMatchObject({ owner: 'h2' });
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

// --- operator commands, maintenance ------------------------------------------------------------------------------

const stats = (host: string, vms: string[] = [], freeMemMiB = 8192, ha?: HaSeen): Poll => ({
  host,
  kind: 'stats',
  ok: true,
  vms: vms.map((id) => ({ id, status: 'Up' })),
  freeMemMiB,
  ...(ha ? { ha } : {}),
});
const heHa = (localMaintenance: boolean): HaSeen => ({
  configured: true,
  active: true,
  score: localMaintenance ? 0 : 3400,
  localMaintenance,
  globalMaintenance: false,
});
const by = (c: Command) => ({ commands: [c] });
const kinds = (actions: Action[]) => actions.map((a) => a.kind);
const ofKind = <K extends Action['kind']>(actions: Action[], kind: K) =>
  actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);

/** h1 runs `vms` (those recorded running there); h2 and h3 are empty with 8 GiB free; every host polled at 0. */
function cluster(vms: VmRecord[], o: { ha?: HaSeen; free?: number } = {}): CoreState {
  const s = world([spec('h1'), spec('h2'), spec('h3')], vms);
  const on1 = vms.filter((v) => v.owner === 'h1' && v.state === 'running').map((v) => v.id);
  return tick(s, 0, [stats('h1', on1, 8192, o.ha), stats('h2', [], o.free), stats('h3', [], o.free)]).state;
}

describe('maintenance', () => {
  it('is persisted first, then every running VM of the host is shut down, HA or not; no power action', () => {
    const s = cluster([
      vm('ha1', 'h1', { ha: true, priority: 50 }),
      vm('plain', 'h1'),
      vm('off', 'h1', { state: 'stopped' }),
    ]);
    const r = tick(s, 20, [], by({ kind: 'maintenance', host: 'h1', on: true, by: 'alice' }));
    expect(r.state.hosts.h1!.status).toBe('Maintenance');
    expect(r.actions[0]).toEqual({ kind: 'write-host', host: 'h1', state: { maintenance: true } });
    expect(ofKind(r.actions, 'stop-vm')).toMatchObject([
      { vm: 'ha1', host: 'h1' },
      { vm: 'plain', host: 'h1' },
    ]);
    expect(r.actions.some((a) => ['power', 'ssh-restart', 'destroy-vm', 'start-vm'].includes(a.kind))).toBe(false);
    expect(r.audit).toMatchObject([
      { kind: 'command', host: 'h1', text: expect.stringMatching(/^maintenance on h1 by alice: /) },
    ]);
  });

  it('keep-vms is refused while the host runs a VM (nothing written or stopped), accepted when it runs none', () => {
    const s = cluster([vm('a', 'h1')]);
    const r = tick(s, 20, [], by({ kind: 'maintenance', host: 'h1', on: true, by: 'bob', keepVms: true }));
    expect(r.state.hosts.h1!.status).toBe('Up');
    expect(r.actions).toEqual([]);
    expect(r.audit).toMatchObject([
      { text: 'maintenance on h1 keep-vms by bob refused: it runs a and keep-vms moves none' },
    ]);
    const r2 = tick(s, 20, [], by({ kind: 'maintenance', host: 'h2', on: true, by: 'bob', keepVms: true }));
    expect(r2.state.hosts.h2!.status).toBe('Maintenance');
  });

  it('is refused during a fence flow past NonResponsive, with the reason', () => {
    const s = cluster([]);
    Object.assign(s.hosts.h1!, { status: 'HardFencing', failures: 5, flow: newFlow('confirm', 15) });
    const r = tick(s, 20, [bad('h1'), ok('h2'), ok('h3')], by({ kind: 'maintenance', host: 'h1', on: true, by: 'c' }));
    expect(r.state.hosts.h1!.status).toBe('HardFencing');
    expect(r.audit[0]!.text).toBe(
      'maintenance on h1 by c refused: a fence flow is under way (HardFencing): it ends first',
    );
  });

  it('shuts a VM down only when another host has room for it now; else it keeps running, looked at again', () => {
    const s = cluster([vm('big', 'h1', { memMiB: 4096 })], { free: 1024 });
    const r = tick(s, 20, [], by({ kind: 'maintenance', host: 'h1', on: true, by: 'a' }));
    expect(ofKind(r.actions, 'stop-vm')).toEqual([]);
    expect(r.log).toContain(
      'big: no other Up host has 4096 MiB free: it keeps running on h1 (looked at again every 30 s)',
    );
    const r2 = tick(r.state, 30, [stats('h2', [], 8192)]);
    expect(ofKind(r2.actions, 'stop-vm')).toEqual([]); // not before 50
    const r3 = tick(r2.state, 50, []);
    expect(ofKind(r3.actions, 'stop-vm')).toMatchObject([{ vm: 'big', host: 'h1' }]);
  });

  it('a VM down on its host in maintenance is queued to start on another host (a plain VM too)', () => {
    const s = cluster([vm('plain', 'h1')]);
    const r = tick(s, 20, [], by({ kind: 'maintenance', host: 'h1', on: true, by: 'a' }));
    const stop = ofKind(r.actions, 'stop-vm')[0]!;
    const r2 = tick(r.state, 24, [], {
      results: [{ kind: 'stop-vm', id: stop.id, vm: 'plain', host: 'h1', ok: true }],
    });
    expect(r2.state.vms.plain).toMatchObject({ owner: null, state: 'down', restart: true, from: 'h1' });
    expect(kinds(r2.actions)).toEqual(['write-vm', 'scan']);
    const scan = ofKind(r2.actions, 'scan')[0]!;
    expect(scan.hosts).toEqual(['h1', 'h2', 'h3']); // the host in maintenance is read too: it may still run it
    const r3 = tick(r2.state, 25, [], { results: [{ kind: 'scan', id: scan.id, lists: { h1: [], h2: [], h3: [] } }] });
    expect(ofKind(r3.actions, 'start-vm')).toMatchObject([{ vm: 'plain', host: 'h2' }]);
  });

  it("the host's own VM list settles a move too, before the shutdown's answer (plain VMs are not dropped)", () => {
    const s = cluster([vm('plain', 'h1')]);
    const r = tick(s, 20, [], by({ kind: 'maintenance', host: 'h1', on: true, by: 'a' }));
    const r2 = tick(r.state, 24, [stats('h1', [])]);
    expect(r2.state.vms.plain).toMatchObject({ state: 'down', restart: true, from: 'h1' });
  });

  it('a failed shutdown is an alert, tried again 30 s later 5 times, then every 30 min; no power action', () => {
    let s = tick(cluster([vm('a', 'h1')]), 20, [], by({ kind: 'maintenance', host: 'h1', on: true, by: 'x' })).state;
    let now = 20;
    for (let i = 1; i <= 6; i++) {
      const id = s.stops.a!.awaiting!;
      const r = tick(s, now + 1, [], { results: [{ kind: 'stop-vm', id, vm: 'a', host: 'h1', ok: false }] });
      expect(r.audit).toMatchObject([{ kind: 'alert', alert: true, host: 'h1' }]);
      expect(r.actions).toEqual([]);
      const wait = i < 5 ? 30 : 1800;
      expect(r.state.stops.a).toMatchObject({ attempts: i, nextAt: now + 1 + wait, awaiting: null });
      expect(ofKind(tick(r.state, now + wait, []).actions, 'stop-vm')).toEqual([]);
      const again = tick(r.state, now + 1 + wait, []);
      expect(ofKind(again.actions, 'stop-vm')).toMatchObject([{ vm: 'a', host: 'h1' }]);
      s = again.state;
      now += 1 + wait;
    }
  });

  it('sets hosted-engine local maintenance on where HA is configured, and off on activate', () => {
    const s = cluster([], { ha: heHa(false) });
    const r = tick(s, 20, [], by({ kind: 'maintenance', host: 'h1', on: true, by: 'a' }));
    const on = ofKind(r.actions, 'set-ha-maintenance');
    expect(on).toMatchObject([{ host: 'h1', on: true }]);
    const r2 = tick(r.state, 21, [], {
      results: [{ kind: 'set-ha-maintenance', id: on[0]!.id, host: 'h1', on: true, ok: true }],
    });
    expect(tick(r2.state, 22, [stats('h1', [], 8192, heHa(false))]).actions).toEqual([]); // done: not sent again
    const r3 = tick(r2.state, 40, [], by({ kind: 'maintenance', host: 'h1', on: false, by: 'a' }));
    expect(r3.state.hosts.h1!.status).toBe('Up');
    expect(r3.actions).toEqual([
      { kind: 'write-host', host: 'h1', state: { maintenance: false, haOffPending: true } },
      { kind: 'set-ha-maintenance', id: expect.any(Number), host: 'h1', on: false },
    ]);
    const off = ofKind(r3.actions, 'set-ha-maintenance')[0]!;
    const done = tick(r3.state, 41, [], { results: [{ ...off, ok: true }] });
    expect(done.actions).toEqual([{ kind: 'write-host', host: 'h1', state: { maintenance: false } }]);
    // h2 reports no haStats: no HA call at all.
    const r4 = tick(r3.state, 50, [], by({ kind: 'maintenance', host: 'h2', on: true, by: 'a' }));
    expect(ofKind(r4.actions, 'set-ha-maintenance')).toEqual([]);
  });

  it('a new leader restores maintenance, moves what still runs there, and asks HA only if needed', () => {
    const snap = (local: boolean) => {
      const s = restoreState(
        {
          hosts: [{ ...spec('h1'), maintenance: true }, spec('h2'), spec('h3')],
          intents: {},
          vms: [vm('a', 'h1'), vm('gone', 'h1', { ha: true })],
        },
        0,
      );
      expect(s.hosts.h1!.status).toBe('Maintenance');
      return tick(s, 1, [stats('h1', ['a'], 8192, heHa(local)), stats('h2'), stats('h3')]);
    };
    const r = snap(true);
    expect(ofKind(r.actions, 'stop-vm')).toMatchObject([{ vm: 'a', host: 'h1' }]);
    expect(r.state.vms.gone).toMatchObject({ state: 'down', restart: true }); // the host says it is not there
    expect(ofKind(r.actions, 'set-ha-maintenance')).toEqual([]);
    expect(ofKind(snap(false).actions, 'set-ha-maintenance')).toMatchObject([{ host: 'h1', on: true }]);
  });

  it('a new leader clears the local maintenance an activation left on (the old leader died first), unless cleared', () => {
    const restored = restoreState(
      { hosts: [{ ...spec('h1'), haOffPending: true }, spec('h2'), spec('h3')], intents: {}, vms: [] },
      0,
    );
    const first = (local: boolean) => tick(restored, 1, [stats('h1', [], 8192, heHa(local)), stats('h2'), stats('h3')]);
    expect(ofKind(first(true).actions, 'set-ha-maintenance')).toMatchObject([{ host: 'h1', on: false }]);
    // already off: nothing to send, and the pending mark is cleared
    expect(first(false).actions).toEqual([{ kind: 'write-host', host: 'h1', state: { maintenance: false } }]);
  });
});

describe('hosts added and removed at runtime', () => {
  it('an added host that never answers is neither fenced nor counted by the partition guard (one alert)', () => {
    let s = world([spec('h1'), spec('h2')]);
    s = tick(s, 0, [ok('h1'), ok('h2')], by({ kind: 'host-add', spec: spec('h3'), by: 'eve' })).state;
    expect(s.hosts.h3).toMatchObject({ status: 'Up', everUp: false });
    const audit = [];
    const actions: Action[] = [];
    for (let t = 2; t <= 80; t += 2) {
      const r = tick(s, t, [ok('h1'), ok('h2'), bad('h3')]);
      s = r.state;
      audit.push(...r.audit);
      actions.push(...r.actions);
    }
    expect(s.hosts.h3!.status).toBe('Suspect');
    expect(actions.filter((a) => 'host' in a && a.host === 'h3')).toEqual([]);
    expect(audit.filter((a) => a.host === 'h3')).toMatchObject([
      { kind: 'alert', text: expect.stringMatching(/has not answered since it was added/) },
    ]);
    expect(partitionView(Object.values(s.hosts), CFG)).toMatchObject({ counted: 2, unreachable: 0 });
    // With h3 counted, h1 failing too would be 2 of 3 unreachable: the guard would hold.
    Object.assign(s.hosts.h1!, { failures: 3, status: 'NonResponsive' });
    expect(partitionView(Object.values(s.hosts), CFG).holds).toBe(false);
  });

  it('an added host counts as a normal host once it has answered; both facts are persisted', () => {
    let s = world([spec('h1'), spec('h2')]);
    const added = tick(s, 0, [], by({ kind: 'host-add', spec: spec('h3'), by: 'eve' }));
    expect(added.actions).toEqual([{ kind: 'write-host', host: 'h3', state: { maintenance: false, answered: false } }]);
    const answered = tick(added.state, 2, [ok('h3')]);
    s = answered.state;
    expect(s.hosts.h3!.everUp).toBe(true);
    expect(answered.actions).toEqual([{ kind: 'write-host', host: 'h3', state: { maintenance: false } }]);
    expect(partitionView(Object.values(s.hosts), CFG).counted).toBe(3);
    expect(tick(s, 4, [ok('h3')]).actions).toEqual([]); // once
  });

  it('a new leader keeps a host that never answered out of fencing (it is not taken for one in service)', () => {
    let s = restoreState(
      { hosts: [spec('h1'), spec('h2'), { ...spec('h3'), answered: false }], intents: {}, vms: [] },
      0,
    );
    expect(s.hosts.h3).toMatchObject({ status: 'Up', everUp: false });
    const actions: Action[] = [];
    for (let t = 2; t <= 120; t += 2) {
      const r = tick(s, t, [ok('h1'), ok('h2'), bad('h3')]);
      s = r.state;
      actions.push(...r.actions);
    }
    expect(actions.filter((a) => 'host' in a && a.host === 'h3')).toEqual([]);
    expect(s.hosts.h3!.status).toBe('Suspect');
  });

  it('a host is removed only in maintenance and running nothing: write-host null, and the core forgets it', () => {
    let s = cluster([vm('a', 'h1'), vm('home', 'h2', { state: 'stopped', everUp: false })]);
    const rm = (host: string) => by({ kind: 'host-remove', host, by: 'ops' });
    expect(tick(s, 20, [], rm('h2')).audit[0]!.text).toBe(
      'host-remove h2 by ops refused: the host is Up: put it in maintenance first',
    );
    s = tick(s, 20, [], by({ kind: 'maintenance', host: 'h1', on: true, by: 'ops' })).state;
    expect(tick(s, 21, [], rm('h1')).audit[0]!.text).toBe('host-remove h1 by ops refused: it still runs a');
    s = tick(s, 21, [], by({ kind: 'maintenance', host: 'h2', on: true, by: 'ops' })).state;
    const r = tick(s, 22, [], rm('h2'));
    expect(r.actions).toEqual([
      { kind: 'write-vm', vm: expect.objectContaining({ id: 'home', owner: null }) },
      { kind: 'write-host', host: 'h2', state: null },
    ]);
    expect(r.state.hosts.h2).toBeUndefined();
    expect(r.audit[0]!.text).toMatch(/^host-remove h2 by ops: no longer watched/);
  });
});

describe('VM commands', () => {
  it('vm-define records a stopped VM on no host; a second definition or a bad priority is refused', () => {
    const def = (id: string, priority = 10) =>
      by({ kind: 'vm-define', vm: { id, ha: true, priority, memMiB: 512 }, by: 'dev' });
    const r = tick(cluster([]), 20, [], def('n'));
    expect(r.state.vms.n).toMatchObject({ state: 'stopped', owner: null, everUp: false, ha: true, restart: false });
    expect(r.actions).toMatchObject([{ kind: 'write-vm', vm: { id: 'n', state: 'stopped' } }]);
    expect(tick(r.state, 21, [], def('n')).audit[0]!.text).toBe(
      'vm-define n by dev refused: a VM of that id is defined already',
    );
    expect(tick(r.state, 21, [], def('m', 101)).audit[0]!.text).toMatch(/refused: priority 101 is not a whole number/);
  });

  it('vm-start on a named host is refused when it lacks the memory or is not Up', () => {
    const s = cluster([vm('n', null, { state: 'stopped', memMiB: 9000 })]);
    const start = (host: string) => by({ kind: 'vm-start', vm: 'n', host, by: 'dev' });
    const r = tick(s, 20, [], start('h2'));
    expect(r.audit[0]!.text).toBe('vm-start n on h2 by dev refused: h2 has 8192 MiB free, the VM needs 9000 MiB');
    expect(r.actions).toEqual([]);
    Object.assign(s.hosts.h3!, { status: 'Suspect', failures: 1 });
    expect(tick(s, 20, [], start('h3')).audit[0]!.text).toBe('vm-start n on h3 by dev refused: h3 is Suspect, not Up');
  });

  it('vm-start goes through the scan, writes `starting` before VM.create, and honours the host named', () => {
    let s = cluster([vm('n', null, { state: 'stopped' })]);
    s = tick(s, 10, [stats('h2', ['x'])]).state; // h2 runs more VMs than h3: placement alone would pick h3
    const r = tick(s, 20, [], by({ kind: 'vm-start', vm: 'n', host: 'h2', by: 'dev' }));
    expect(r.state.vms.n).toMatchObject({ owner: 'h2', restart: true });
    const scan = ofKind(r.actions, 'scan')[0]!;
    const r2 = tick(r.state, 21, [], { results: [{ kind: 'scan', id: scan.id, lists: { h1: [], h2: [], h3: [] } }] });
    expect(r2.actions).toMatchObject([
      { kind: 'write-vm', vm: { id: 'n', state: 'starting', owner: 'h2' } },
      { kind: 'start-vm', vm: 'n', host: 'h2' },
    ]);
  });

  it('vm-stop of an HA VM: recorded stopped before VM.shutdown; gone is not a crash; never restarted', () => {
    const s = cluster([vm('ha1', 'h1', { ha: true, priority: 90 })]);
    const r = tick(s, 20, [], by({ kind: 'vm-stop', vm: 'ha1', by: 'dev' }));
    expect(r.actions).toMatchObject([
      { kind: 'write-vm', vm: { id: 'ha1', state: 'stopped', owner: 'h1', restart: false } },
      { kind: 'stop-vm', vm: 'ha1', host: 'h1' },
    ]);
    const stop = ofKind(r.actions, 'stop-vm')[0]!;
    // The host's list no longer has it before the shutdown's answer comes.
    let st = tick(r.state, 24, [stats('h1', [])]).state;
    expect(st.vms.ha1).toMatchObject({ state: 'stopped', restart: false });
    const r2 = tick(st, 25, [], { results: [{ kind: 'stop-vm', id: stop.id, vm: 'ha1', host: 'h1', ok: true }] });
    expect(r2.state.vms.ha1).toMatchObject({ state: 'stopped', owner: 'h1' }); // h1 stays its home
    st = r2.state;
    for (let t = 26; t < 200; t += 10) {
      const x = tick(st, t, [stats('h1', []), stats('h2'), stats('h3')]);
      expect(x.actions.some((a) => a.kind === 'scan' || a.kind === 'start-vm')).toBe(false);
      st = x.state;
    }
  });

  it('a new leader finishes a stop: a VM recorded stopped that its host still runs is shut down', () => {
    const s = restoreState(
      { hosts: [spec('h1'), spec('h2')], intents: {}, vms: [vm('v', 'h1', { state: 'stopped' })] },
      0,
    );
    const r = tick(s, 1, [stats('h1', ['v']), stats('h2')]);
    expect(r.state.vms.v!.state).toBe('stopped'); // not adopted as running
    expect(ofKind(r.actions, 'stop-vm')).toMatchObject([{ vm: 'v', host: 'h1' }]);
  });

  it('vm-stop of a VM still queued to start cancels the start', () => {
    const s = cluster([vm('q', null, { state: 'down', ha: true, restart: true, queuedAt: 0, nextTryAt: 100 })]);
    const r = tick(s, 20, [], by({ kind: 'vm-stop', vm: 'q', by: 'dev' }));
    expect(r.state.vms.q).toMatchObject({ state: 'stopped', restart: false, queuedAt: null });
    expect(ofKind(r.actions, 'stop-vm')).toEqual([]);
  });

  it('vm-remove only takes a stopped, down or error VM', () => {
    const s = cluster([vm('run', 'h1'), vm('off', null, { state: 'stopped' }), vm('err', 'h1', { state: 'error' })]);
    const rm = (v: string) => by({ kind: 'vm-remove', vm: v, by: 'dev' });
    expect(tick(s, 20, [], rm('run')).audit[0]!.text).toBe(
      'vm-remove run by dev refused: it is running: only a stopped, down or error VM is removed',
    );
    const r = tick(s, 20, [], rm('off'));
    expect(r.actions).toEqual([{ kind: 'remove-vm', vm: 'off' }]);
    expect(r.state.vms.off).toBeUndefined();
    expect(tick(s, 20, [], rm('err')).actions).toEqual([{ kind: 'remove-vm', vm: 'err' }]);
  });

  it('every command is an audit event naming who asked', () => {
    const s = cluster([vm('run', 'h1')]);
    const cmds: Command[] = [
      { kind: 'host-add', spec: spec('h9'), by: 'p1' },
      { kind: 'host-remove', host: 'nope', by: 'p2' },
      { kind: 'vm-define', vm: { id: 'd', ha: false, priority: 0, memMiB: 1 }, by: 'p3' },
      { kind: 'vm-start', vm: 'run', by: 'p4' },
      { kind: 'vm-stop', vm: 'nope', by: 'p5' },
      { kind: 'vm-remove', vm: 'nope', by: 'p6' },
      { kind: 'maintenance', host: 'h2', on: false, by: 'p7' },
      { kind: 'confirm-rebooted', host: 'h2', by: 'p8' },
    ];
    const r = tick(s, 20, [], { commands: cmds });
    expect(r.audit.map((a) => a.kind)).toEqual(Array(8).fill('command'));
    r.audit.forEach((a, i) => expect(a.text).toContain(`by p${i + 1}`));
  });
});

describe('never twice, where a record says a VM may run on a silent host', () => {
  it('a VM recorded `starting` on a host that was not read by the scan is not started elsewhere', () => {
    let s = restoreState(
      {
        hosts: [spec('h1'), spec('h2'), spec('h3')],
        intents: {},
        vms: [vm('v', 'h1', { state: 'starting', ha: true, restart: true, queuedAt: 0, nextTryAt: 0 })],
      },
      0,
    );
    s = tick(s, 0, [bad('h1'), stats('h2'), stats('h3')]).state; // h1 Suspect: not Up, so not in the scan
    const r = tick(s, 11, [bad('h1')]);
    const scan = ofKind(r.actions, 'scan')[0]!;
    expect(scan.hosts).toEqual(['h2', 'h3']);
    const r2 = tick(r.state, 12, [], { results: [{ kind: 'scan', id: scan.id, lists: { h2: [], h3: [] } }] });
    expect(ofKind(r2.actions, 'start-vm')).toEqual([]);
    expect(r2.log).toContain('v: h1 did not list its VMs: not starting it elsewhere yet');
  });

  it('a start not seen Up within 60 s fails only if its host answers without it', () => {
    const s = cluster([vm('v', 'h2', { state: 'starting', restart: true, queuedAt: 0, nextTryAt: 0 })]);
    s.vms.v!.startSentAt = 1; // VM.create sent at 1 (a restored record has none: it is looked for first)
    Object.assign(s.hosts.h2!, { failures: 2, status: 'Suspect', lastOk: 65 });
    expect(tick(s, 70, [bad('h2')]).state.vms.v!.state).toBe('starting'); // silent: it may run there
    const answered = tick(s, 70, [stats('h2', [])]);
    expect(answered.state.vms.v).toMatchObject({ state: 'down', owner: null, attempts: 1 });
  });

  it('a new leader does not recover a host from its `off-confirmed` intent once the host answers', () => {
    const s = restoreState(
      {
        hosts: [spec('h1'), spec('h2'), spec('h3')],
        intents: { h1: { phase: 'off-confirmed', startedAt: 5 } },
        vms: [vm('v', 'h1', { ha: true })],
      },
      100,
    );
    expect(s.hosts.h1!.status).toBe('PowerOffConfirmed');
    const r = tick(s, 100, [stats('h1', ['v']), stats('h2'), stats('h3')]);
    expect(r.state.hosts.h1!.status).toBe('Up');
    expect(r.state.vms.v).toMatchObject({ owner: 'h1', state: 'running' });
    expect(r.actions).toContainEqual({ kind: 'write-fence', host: 'h1', intent: null });
    expect(r.actions.some((a) => a.kind === 'scan' || a.kind === 'power')).toBe(false);
  });

  it('a host back Up while its VMs are being recovered has its fence intent cleared', () => {
    const s = cluster([]);
    Object.assign(s.hosts.h1!, { status: 'RecoveringVMs', failures: 0, lastOk: 50, since: 40 });
    const r = tick(s, 60, [ok('h1')]);
    expect(r.state.hosts.h1!.status).toBe('Up');
    expect(r.actions).toContainEqual({ kind: 'write-fence', host: 'h1', intent: null });
  });
});

describe("a former leader's account of its lost term", () => {
  it('is entered in the audit trail by the leader that takes it, as an alert, and changes nothing else', () => {
    const s = world([spec('h1'), spec('h2')]);
    const r = tick(s, 5, [ok('h1'), ok('h2')], {
      commands: [
        {
          kind: 'stepped-down',
          by: 'coord-a',
          epoch: 3,
          reason: 'the leadership deadline passed',
          refused: ['write fence intent'],
          cutOff: ['power status of h1 through h2'],
          etcd: 'refused',
          leader: { epoch: 7, name: 'coord-b' },
        },
      ],
    });
    expect(r.audit).toEqual([
      {
        at: 5,
        kind: 'leadership',
        alert: true,
        text:
          'coord-a stepped down from epoch 3: the leadership deadline passed; etcd refused a transaction guarded by ' +
          'epoch 3; etcd named coord-b (epoch 7) as leader; writes refused after the end: write fence intent; calls ' +
          'cut off: power status of h1 through h2 (entered by the leader of epoch 7)',
      },
    ]);
    expect(r.actions).toEqual([]);
    expect(r.state.hosts).toEqual(tick(s, 5, [ok('h1'), ok('h2')]).state.hosts);
  });
});

describe('VMs a host lists Down with an error (vdsm exitCode 1)', () => {
  const listing = (host: string, vms: { id: string; status: string; error?: string }[]): Poll => ({
    host,
    kind: 'stats',
    ok: true,
    vms,
    freeMemMiB: 8192,
  });

  it('a running VM that crashed: not HA, in error (once Up: the `all` policy would move it); HA, queued again', () => {
    const s = cluster([vm('plain', 'h1'), vm('ha', 'h1', { ha: true }), vm('gone', 'h1')]);
    const r = tick(s, 10, [
      listing('h1', [
        { id: 'plain', status: 'Down', error: 'Lost connection with qemu process' },
        { id: 'ha', status: 'Down', error: 'Lost connection with qemu process' },
      ]),
    ]);
    expect(r.state.vms.plain).toMatchObject({ state: 'error', everUp: true, owner: 'h1', restart: false });
    expect(r.state.vms.ha).toMatchObject({ state: 'down', restart: true, from: 'h1' });
    expect(r.log).toContain('ha Down on h1 with an error (Lost connection with qemu process): queued for restart');
    expect(r.state.vms.gone).toMatchObject({ state: 'down', restart: false }); // no exit read: Down, as before
    expect(r.audit).toMatchObject([
      { kind: 'vm', alert: true, text: 'plain Down on h1 with an error (Lost connection with qemu process): in error' },
    ]);
    // both Down entries are cleared off h1, so that it can run them again; nothing else is destroyed
    expect(ofKind(r.actions, 'destroy-vm')).toMatchObject([
      { vm: 'plain', host: 'h1', why: 'down' },
      { vm: 'ha', host: 'h1', why: 'down' },
    ]);
  });

  it('evacuation `all` is for hosts that fail: a plain VM that crashed on a live host is in error, not restarted', () => {
    const s = cluster([vm('plain', 'h1'), vm('gone', 'h1')]);
    const input = {
      now: 10,
      leader: LEADER,
      polls: [listing('h1', [{ id: 'plain', status: 'Down', error: 'Lost connection with qemu process' }])],
      results: [],
      commands: [],
    };
    const r = step(s, input, { ...CFG, defaultEvacuation: 'all' });
    expect(r.state.vms.plain).toMatchObject({ state: 'error', restart: false });
    // a VM the host no longer lists at all (it rebooted): the policy's, restarted under `all`
    expect(r.state.vms.gone).toMatchObject({ state: 'down', restart: true });
  });

  it('a Down entry without an error (a normal exit) is cleared too; one of a VM we do not know is left alone', () => {
    const s = cluster([vm('v', 'h1', { state: 'stopped' })]);
    const r = tick(s, 10, [
      listing('h1', [
        { id: 'v', status: 'Down' },
        { id: 'hosted-engine', status: 'Down', error: 'x' },
      ]),
    ]);
    expect(ofKind(r.actions, 'destroy-vm')).toMatchObject([{ vm: 'v', host: 'h1', why: 'down' }]);
    expect(r.state.vms.v!.state).toBe('stopped');
  });

  it("a person's start of a plain VM that fails on its host: in error there, never Up, not tried again", () => {
    let s = cluster([vm('n', null, { state: 'stopped', everUp: false })]);
    let r = tick(s, 20, [], by({ kind: 'vm-start', vm: 'n', host: 'h1', by: 'dev' }));
    const scan = ofKind(r.actions, 'scan')[0]!;
    r = tick(r.state, 21, [], { results: [{ kind: 'scan', id: scan.id, lists: { h1: [], h2: [], h3: [] } }] });
    expect(r.state.vms.n).toMatchObject({ state: 'starting', owner: 'h1' });
    // launching is not Up: its QEMU may yet fail to start
    r = tick(r.state, 22, [listing('h1', [{ id: 'n', status: 'WaitForLaunch' }])]);
    expect(r.state.vms.n).toMatchObject({ state: 'starting', everUp: false });
    const failed = [{ id: 'n', status: 'Down', error: 'unsupported configuration: unknown on_crash action' }];
    // the Down entry is the start's answer: read, then cleared off h1
    r = tick(r.state, 23, [listing('h1', failed)]);
    expect(r.state.vms.n).toMatchObject({ state: 'error', owner: 'h1', everUp: false, restart: false });
    expect(r.audit[0]!.text).toBe(
      'n did not start on h1 (unsupported configuration: unknown on_crash action): in error, not tried again',
    );
    expect(ofKind(r.actions, 'destroy-vm')).toMatchObject([{ vm: 'n', host: 'h1', why: 'down' }]);
    s = r.state;
    for (let t = 25; t < 400; t += 5) {
      const x = tick(s, t, [listing('h1', []), stats('h2'), stats('h3')]);
      expect(kinds(x.actions).filter((k) => k === 'scan' || k === 'start-vm')).toEqual([]);
      s = x.state;
    }
    expect(s.vms.n!.state).toBe('error');
  });

  it('an HA start the host reports failed is a failed try: retried, as a start not seen Up', () => {
    let r = tick(
      cluster([vm('h', null, { state: 'stopped', ha: true })]),
      20,
      [],
      by({ kind: 'vm-start', vm: 'h', by: 'dev' }),
    );
    const scan = ofKind(r.actions, 'scan')[0]!;
    r = tick(r.state, 21, [], { results: [{ kind: 'scan', id: scan.id, lists: { h1: [], h2: [], h3: [] } }] });
    const host = r.state.vms.h!.owner!;
    r = tick(r.state, 23, [listing(host, [{ id: 'h', status: 'Down', error: 'boom' }])]);
    expect(r.state.vms.h).toMatchObject({ state: 'down', restart: true, attempts: 1, owner: null });
    expect(r.log).toContain(`h: ${host} reports its start failed: boom; try 2 in 30 s`);
  });
});
