/**
 * The fencing scenarios' shared parts, run on either topology of the bed (loopback, netns): the waits, what the peers
 * saw, and issue 14's twelve scenarios with their assertions (vitest's expect, so only test files import
 * this; the VM plan is in populate.ts, which the lab imports too).
 */
import { expect } from 'vitest';
import type { Bed, BedVm } from './bed.js';
import {
  logLinesMatching,
  MAX_SAMPLE_GAP_MS,
  rpcCalls,
  total,
  whereSeen,
  whereUpNow,
  windowSafety,
} from './evidence.js';
import { FAST_POLICY } from './policy.js';
import { plan, populate } from './populate.js';
import { coordinatorLines, fenceTimeline, type Mark, printTimeline } from './timeline.js';

export { plan };

/** Three hosts as machines in network namespaces, one etcd member and one replica on the fast policy. */
export const THREE_MACHINES = {
  hosts: 3,
  replicas: 1,
  etcdMembers: 1 as const,
  policy: FAST_POLICY,
  topology: 'netns' as const,
};

export const transitions = (bed: Bed) =>
  Object.fromEntries(bed.hosts.map((h) => [h.name, bed.bmc(h.name).transitions()]));

/** Waits until `host`'s BMC carried out a power off, then until each of `ha` is Up on another host since `since`. */
export async function untilFencedAndRestarted(bed: Bed, host: string, ha: { id: string }[], since: number) {
  await bed.until(
    `the BMC of ${host} to carry out a power off`,
    () => bed.bmc(host).transitions().includes('power 0'),
    120_000,
  );
  await untilRestarted(bed, host, ha, since);
}

/**
 * Waits until each of `ha` is Up on a host other than `host` since `since` and, when the guests are QEMU, until each
 * of those guests, started since, answered on its console (its kernel booted and its /init ran there).
 */
export async function untilRestarted(bed: Bed, host: string, ha: { id: string }[], since: number) {
  await bed.until(
    `the HA VMs of ${host} Up on another host`,
    () => ha.every((v) => bed.sampler.firstUp(v.id, since, [host])),
    120_000,
  );
  if (bed.qemuGuests)
    await bed.until(
      `the guests of the HA VMs of ${host} to answer`,
      () => ha.every((v) => bed.sampler.firstAnswer(v.id, since)),
      120_000,
    );
}

export async function hostState(bed: Bed, host: string): Promise<string | null | undefined> {
  return (await bed.hostViews().catch(() => [])).find((h) => h.id === host)?.state;
}

/**
 * vdsmd killed on host1, the host otherwise fine: soft-fenced over SSH (its vdsmd restarted), back Up, its VMs
 * untouched and no power action.
 */
export async function vdsmdKilledScenario(bed: Bed): Promise<void> {
  const vms = await populate(bed, plan());
  const t0 = Date.now();
  await bed.host('host1').kill();

  await bed.until('a restart request for host1 served', () => bed.desk.served.some((r) => r.host === 'host1'), 90_000);
  await bed.until(
    'host1 Up again at the leader, listing its VMs',
    async () =>
      (await hostState(bed, 'host1')) === 'Up' &&
      Object.values(whereUpNow(bed, vms.host1!)).every((on) => on.includes('host1')),
    60_000,
  );
  // a few more poll rounds, to see that nothing else follows
  await new Promise((r) => setTimeout(r, 5000));
  printTimeline('vdsmd killed', t0, await fenceTimeline(bed, 'host1', t0, []));

  expect(bed.desk.served.map((r) => [r.host, r.command, r.ok])).toEqual([
    ['host1', '/usr/bin/vdsm-tool service-restart vdsmd', true],
  ]);
  expect(transitions(bed)).toEqual({ host1: [], host2: [], host3: [] });
  const everyVm = Object.values(vms).flat();
  expect(whereSeen(bed, everyVm, 0)).toEqual({
    'h1-ha-a': ['host1'],
    'h1-ha-b': ['host1'],
    'h1-plain': ['host1'],
    'h2-ha': ['host2'],
    'h3-plain': ['host3'],
  });
  expect(whereUpNow(bed, vms.host1!)).toEqual({
    'h1-ha-a': ['host1'],
    'h1-ha-b': ['host1'],
    'h1-plain': ['host1'],
  });
  expect(rpcCalls(bed, 'VM.create', t0)).toEqual({ host1: 0, host2: 0, host3: 0 });
  expect(rpcCalls(bed, 'VM.destroy', t0)).toEqual({ host1: 0, host2: 0, host3: 0 });
  if (bed.qemuGuests)
    for (const v of vms.host1!)
      expect(bed.sampler.qemuPids(v.id, 'host1'), `${v.name}: one QEMU process all along`).toHaveLength(1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The fault window from `t0` on, judged by the sampler, fail closed: no gap longer than MAX_SAMPLE_GAP_MS, and no
 * sample with a VM of host1 running elsewhere while host1 could not be asked and was not yet switched off.
 */
export function expectWatchedAndSafe(bed: Bed, host1Vms: BedVm[], t0: number, title: string): void {
  const w = windowSafety(bed, host1Vms, t0);
  console.log(
    `${title}: ${w.samples} samples, longest gap ${w.maxGapMs} ms, unknown samples ${JSON.stringify(w.unknown)}, unproven ${w.unproven.length}`,
  );
  expect(w.unproven, 'samples where a VM of host1 ran elsewhere while host1 was unknown and on').toEqual([]);
  expect(w.maxGapMs, 'the longest gap between two samples of the fault window').toBeLessThanOrEqual(MAX_SAMPLE_GAP_MS);
}

/** Prints the fence's timeline (the HA VMs of host1 among `host1Vms`) and judges its window (expectWatchedAndSafe). */
async function reportFence(
  bed: Bed,
  title: string,
  t0: number,
  host1Vms: BedVm[],
  extra: Record<string, Mark> = {},
): Promise<void> {
  const ha = host1Vms.filter((v) => v.ha).map((v) => v.id);
  printTimeline(title, t0, { ...(await fenceTimeline(bed, 'host1', t0, ha)), ...extra });
  expectWatchedAndSafe(bed, host1Vms, t0, title);
}

/** What a fenced host1 leaves: each HA VM of it Up once elsewhere, its plain VM nowhere, one VM.create per HA VM. */
export async function expectRecovered(bed: Bed, vms: Record<string, BedVm[]>, t0: number): Promise<void> {
  const ha = vms.host1!.filter((v) => v.ha);
  const seen = whereSeen(bed, vms.host1!, t0 + 1);
  for (const v of ha)
    expect(
      seen[v.name]!.filter((h) => h !== 'host1'),
      v.name,
    ).toHaveLength(1);
  expect(
    seen['h1-plain']!.filter((h) => h !== 'host1'),
    'the non-HA VM is not restarted',
  ).toEqual([]);
  expect(total(rpcCalls(bed, 'VM.create', t0)), 'one VM.create per HA VM, nothing else').toBe(ha.length);
  const view = new Map((await bed.vmViews()).map((v) => [v.name, v]));
  for (const v of ha)
    expect(view.get(v.name)).toMatchObject({ state: 'running', owner: seen[v.name]!.find((h) => h !== 'host1') });
  expect(view.get('h1-plain')?.state).not.toBe('running');
  // the other hosts' own VMs never moved
  expect(whereSeen(bed, [...vms.host2!, ...vms.host3!], t0)).toEqual({ 'h2-ha': ['host2'], 'h3-plain': ['host3'] });
}

/**
 * host1 powered on again through its BMC (its management link restored first): it comes back Up empty (its power
 * loss took its guests) and runs nothing twice; nothing is created again.
 */
async function expectRejoins(bed: Bed, vms: Record<string, BedVm[]>, t0: number): Promise<void> {
  const faults = bed.faults!;
  await faults.restoreHost('host1');
  const tOn = Date.now();
  await faults.powerOn('host1');
  await bed.until('host1 Up again at the leader', async () => (await hostState(bed, 'host1')) === 'Up', 90_000);
  await sleep(5000); // a few more poll rounds: nothing may follow
  const ha = vms.host1!.filter((v) => v.ha);
  const now = whereUpNow(bed, vms.host1!);
  for (const v of ha) expect(now[v.name], `${v.name} after host1 rejoined`).toHaveLength(1);
  for (const v of ha) expect(now[v.name]).not.toContain('host1');
  expect(now['h1-plain']).toEqual([]);
  expect(whereSeen(bed, vms.host1!, tOn + 1), 'host1 lists none of its old VMs again').toEqual(
    Object.fromEntries(vms.host1!.map((v) => [v.name, v.ha ? now[v.name] : []])),
  );
  expect(total(rpcCalls(bed, 'VM.create', t0)), 'nothing created again after the rejoin').toBe(ha.length);
}

/** Scenarios 2 and 3: host1 unreachable (its network cut, or frozen), its BMC reachable on the BMC network. */
async function fencedThroughPeer(
  bed: Bed,
  title: string,
  fault: () => Promise<void>,
  afterFence: () => Promise<void> = async () => {},
): Promise<void> {
  const vms = await populate(bed, plan());
  const ha = vms.host1!.filter((v) => v.ha);
  const t0 = Date.now();
  await fault();
  await untilFencedAndRestarted(bed, 'host1', ha, t0);
  await sleep(5000);
  await reportFence(bed, title, t0, vms.host1!);

  expect(transitions(bed)).toEqual({ host1: ['power 0'], host2: [], host3: [] });
  const fence = rpcCalls(bed, 'Host.fenceNode', t0);
  expect(fence.host1, 'host1 fenced itself').toBe(0);
  expect(fence.host2! + fence.host3!, 'the power-off went through a peer').toBeGreaterThan(0);
  expect(bed.desk.served, 'no SSH restart reached host1').toEqual([]);
  await expectRecovered(bed, vms, t0);
  await afterFence();
  await expectRejoins(bed, vms, t0);
}

/**
 * Scenario 2: host1's management link cut both ways (its switch port down), its BMC reachable: SSH cannot reach it
 * (the soft fence fails), a peer powers it off, its HA VMs start elsewhere, its plain VM stays down; powered on
 * again it rejoins and runs nothing twice.
 */
export const networkCutScenario = (bed: Bed) =>
  fencedThroughPeer(bed, 'host network cut, BMC reachable', () => bed.faults!.cutHost('host1', 'both'));

/**
 * Scenario 3: host1 frozen (every process of it stopped: a kernel hang), its BMC reachable: fenced as in scenario 2;
 * lifting the freeze afterwards finds nothing to continue (the power-off took every frozen process).
 */
export const frozenHostScenario = (bed: Bed) =>
  fencedThroughPeer(
    bed,
    'host frozen, BMC reachable',
    async () => void (await bed.faults!.freezeHost('host1')),
    async () => expect(await bed.faults!.thawHost('host1'), 'processes of host1 left to thaw').toEqual([]),
  );

/**
 * Scenario 4: host1's power lost behind its BMC's back, the BMC alive: the status read says OFF, so no SSH is tried
 * and no power action is needed; its HA VMs start elsewhere.
 */
export async function powerLossScenario(bed: Bed): Promise<void> {
  const vms = await populate(bed, plan());
  const ha = vms.host1!.filter((v) => v.ha);
  const t0 = Date.now();
  await bed.bmc('host1').powerCut();
  await untilRestarted(bed, 'host1', ha, t0);
  await sleep(5000);
  await reportFence(bed, 'power lost, BMC alive', t0, vms.host1!);

  expect(transitions(bed), 'no power action: the host was off').toEqual({ host1: [], host2: [], host3: [] });
  const lines = (await coordinatorLines(bed)).filter((l) => l.at >= t0).map((l) => l.text);
  expect(
    lines.some((l) => /host1: power status OFF through host[23]: no SSH/.test(l)),
    'OFF read, SSH skipped',
  ).toBe(true);
  expect(
    lines.some((l) => /host1: soft fence: SSH/.test(l)),
    'no SSH attempt',
  ).toBe(false);
  expect(bed.desk.served).toEqual([]);
  await expectRecovered(bed, vms, t0);
  await expectRejoins(bed, vms, t0);
}

/**
 * The partition guard holding while `cut` lasts (scenarios 7 and 8): after 30 s (with FAST_POLICY, NonResponsive
 * after 6 s of failures and witnesses asked within 2 ping rounds: well past both) the guard is in the audit trail,
 * and there was no fence, no power action, no SSH; once `restore` ran every host is Up again at the leader, no VM
 * was started or stopped, and each VM was only ever seen on its own host.
 */
async function partitionHolds(
  bed: Bed,
  title: string,
  cut: () => Promise<void>,
  restore: () => Promise<void>,
): Promise<void> {
  const vms = await populate(bed, plan());
  const t0 = Date.now();
  await cut();
  await sleep(30_000);
  const states = Object.fromEntries((await bed.hostViews()).map((h) => [h.id, h.state]));
  console.log(`${title}, after 30 s: ${JSON.stringify(states)}`);
  const guards = (await (await bed.leader()).events()).filter((e) => e.kind === 'guard' && Date.parse(e.time) >= t0);
  console.log(`guards: ${guards.map((e) => `${e.host} ${e.guard}`).join(', ')}`);
  expect(
    guards.filter((e) => e.guard === 'partition').length,
    'the partition guard that held the fence is in the audit trail',
  ).toBeGreaterThan(0);
  const none = Object.fromEntries(bed.hosts.map((h) => [h.name, []]));
  expect(transitions(bed), 'no power action').toEqual(none);
  expect(bed.desk.served, 'no SSH restart').toEqual([]);
  expect(total(rpcCalls(bed, 'Host.fenceNode', t0)), 'no fence through a proxy').toBe(0);

  await restore();
  await bed.until(
    'every host Up again at the leader',
    async () => (await bed.hostViews().catch(() => [])).every((h) => h.state === 'Up'),
    90_000,
  );
  await sleep(5000);
  expect(total(rpcCalls(bed, 'VM.create', t0)), 'no VM started').toBe(0);
  expect(total(rpcCalls(bed, 'VM.destroy', t0)), 'no VM destroyed').toBe(0);
  const all = Object.values(vms).flat();
  expect(whereSeen(bed, all, t0)).toEqual(Object.fromEntries(all.map((v) => [v.name, [v.home]])));
}

/**
 * Scenario 7: the coordinator cut from every host (iptables in its namespace, both ways), the hosts healthy among
 * themselves: every host looks dead to it and no witness answers it, so the partition guard holds.
 */
export async function coordinatorCutScenario(bed: Bed): Promise<void> {
  const replica = (await bed.leader()).name;
  await partitionHolds(
    bed,
    'coordinator cut from every host',
    () => bed.faults!.cutReplicaFromHosts(replica),
    () => bed.faults!.restoreReplica(replica),
  );
}

/**
 * Scenario 8: half the hosts (host1 and host2 of four) cut from the management network at once: 2 of 4 hosts that
 * were Up are unreachable, the partition threshold (50 %), so nothing is fenced; when the network returns both are
 * Up again with their VMs where they were.
 */
export async function halfUnreachableScenario(bed: Bed): Promise<void> {
  const half = ['host1', 'host2'];
  await partitionHolds(
    bed,
    'half the hosts unreachable',
    async () => void (await Promise.all(half.map((h) => bed.faults!.cutHost(h, 'both')))),
    async () => void (await Promise.all(half.map((h) => bed.faults!.restoreHost(h)))),
  );
}

/**
 * Scenario 12: a two-host cluster, host1's power lost behind its live BMC: the survivor, asked as witness, cannot
 * reach it, the BMC reads OFF, and host1's HA VM starts on host2 (oVirt's rule that a fence needs half the cluster's
 * hosts Up would block this: one of two is not more than half).
 */
export async function twoHostsScenario(bed: Bed): Promise<void> {
  const vms = await populate(bed, {
    host1: [
      { name: 'h1-ha', ha: true },
      { name: 'h1-plain', ha: false },
    ],
    host2: [{ name: 'h2-ha', ha: true }],
  });
  const ha = vms.host1!.filter((v) => v.ha);
  const t0 = Date.now();
  await bed.bmc('host1').powerCut();
  await untilRestarted(bed, 'host1', ha, t0);
  await sleep(5000);
  await reportFence(bed, 'two hosts, power lost, BMC alive', t0, vms.host1!);
  expect(transitions(bed), 'no power action: the host was off').toEqual({ host1: [], host2: [] });
  expect(whereUpNow(bed, [...vms.host1!, ...vms.host2!])).toEqual({
    'h1-ha': ['host2'],
    'h1-plain': [],
    'h2-ha': ['host2'],
  });
  expect(total(rpcCalls(bed, 'VM.create', t0)), 'one VM.create, for the HA VM').toBe(1);
}

const byName = async (bed: Bed) => new Map((await bed.vmViews()).map((v) => [v.name, v]));

/**
 * Scenario 6: evacuation policy `all` (the replica's `default_evacuation`), host1 powered off through its BMC. It
 * holds one VM of each kind: running HA, running plain, stopped by a person, crashed (in error, once Up: its QEMU
 * killed, bed-host.ts crashVm), and refused by libvirt at its first start (in error, never Up). The two running ones
 * come back running elsewhere, HA first; the stopped and the crashed one are re-homed to another host and stay as
 * they are; the never-Up one is only marked Down. Nothing but the two is started.
 */
export async function evacuationAllScenario(bed: Bed): Promise<void> {
  const vms = await populate(bed, {
    host1: [
      { name: 'e-ha', ha: true, priority: 60 },
      { name: 'e-run', ha: false },
      { name: 'e-stopped', ha: false },
      { name: 'e-err-up', ha: false },
    ],
    host2: [{ name: 'h2-ha', ha: true }],
    host3: [{ name: 'h3-plain', ha: false }],
  });
  const [ha, run, stopped, errUp] = vms.host1! as [BedVm, BedVm, BedVm, BedVm];
  const leader = await bed.leader();
  await leader.cliOk(['vm', 'stop', stopped.id]);
  await bed.until(
    'e-stopped shut down on host1',
    async () => !(await bed.host('host1').list()).some((x) => x.vmId === stopped.id),
    60_000,
  );
  await bed.host('host1').crashVm(errUp.id);
  // vdsmd lists the crashed guest Down with an error (QEMU: at once; test driver: after its restart, when host1
  // answers again: a start needs it Up)
  await bed.until(
    'the leader to have host1 Up and e-err-up in error',
    async () => (await hostState(bed, 'host1')) === 'Up' && (await byName(bed)).get('e-err-up')?.state === 'error',
    60_000,
  );
  const never = await bed.defineVm('e-err-never', { ha: false, refusedByLibvirt: true });
  await bed.until('the leader to know e-err-never', async () => (await byName(bed)).has('e-err-never'), 30_000);
  await bed.startVm(never, 'host1');
  await bed.until(
    'the leader to record e-stopped stopped and e-err-up and e-err-never in error, all on host1',
    async () => {
      const v = await byName(bed);
      const on1 = (name: string, state: string) => v.get(name)?.state === state && v.get(name)?.owner === 'host1';
      return on1('e-stopped', 'stopped') && on1('e-err-up', 'error') && on1('e-err-never', 'error');
    },
    60_000,
  );
  const before = await byName(bed);
  expect(before.get('e-err-up')?.everUp, 'e-err-up ran before it crashed').toBe(true);
  expect(before.get('e-err-never')?.everUp, 'e-err-never never ran').toBe(false);
  // the Down entries of the crashed and the refused VM are cleared off host1: it lists its two running VMs only
  await bed.until(
    'host1 to list e-ha and e-run only',
    async () => {
      const listed = (await bed.host('host1').list()).map((x) => x.vmId).sort();
      return JSON.stringify(listed) === JSON.stringify([ha.id, run.id].sort());
    },
    30_000,
  );
  const host1Vms = [...vms.host1!, never];

  const t0 = Date.now();
  await bed.faults!.powerOff('host1');
  await untilRestarted(bed, 'host1', [ha, run], t0);
  const others = ['host2', 'host3'];
  await bed.until(
    'e-stopped and e-err-up re-homed, e-err-never Down',
    async () => {
      const v = await byName(bed);
      return (
        others.includes(v.get('e-stopped')?.owner ?? '') &&
        others.includes(v.get('e-err-up')?.owner ?? '') &&
        v.get('e-err-never')?.state === 'down'
      );
    },
    60_000,
  );
  await sleep(5000);
  await reportFence(bed, 'evacuation all, host powered off', t0, host1Vms);

  expect(transitions(bed), 'the harness power-off only').toEqual({ host1: ['power 0'], host2: [], host3: [] });
  const after = await byName(bed);
  expect(after.get('e-stopped')).toMatchObject({ state: 'stopped' });
  expect(after.get('e-err-up')).toMatchObject({ state: 'error', everUp: true });
  expect(after.get('e-err-never')).toMatchObject({ state: 'down', owner: null, everUp: false });
  for (const v of [ha, run]) expect(after.get(v.name)).toMatchObject({ state: 'running' });
  expect(after.get('e-ha')?.owner).not.toBe('host1');
  expect(after.get('e-run')?.owner).not.toBe('host1');
  const seen = Object.fromEntries(
    Object.entries(whereSeen(bed, host1Vms, t0 + 1)).map(([vm, on]) => [vm, on.filter((h) => h !== 'host1')]),
  );
  expect(seen, 'the two running VMs run once elsewhere; the three others nowhere else').toEqual({
    'e-ha': [after.get('e-ha')!.owner],
    'e-run': [after.get('e-run')!.owner],
    'e-stopped': [],
    'e-err-up': [],
    'e-err-never': [],
  });
  expect(total(rpcCalls(bed, 'VM.create', t0)), 'two VM.create: e-ha and e-run, nothing else').toBe(2);
  const creates = (await coordinatorLines(bed))
    .filter((l) => l.at >= t0)
    .map((l) => /([0-9a-f-]{36}): VM\.create on host\d/.exec(l.text)?.[1])
    .filter((id) => id !== undefined);
  expect(creates, 'the HA VM (priority 60) is started before the plain one').toEqual([ha.id, run.id]);
}

/**
 * Scenario 9: two replicas; host1's network cut; the leader SIGKILLed the moment host1's BMC carried out its `off`,
 * before OFF was confirmed (statusPollInterval 2 s widens that window). The other replica leads after the lease
 * TTL, reads the intent (`off-sent`), confirms OFF without a second `off`, and starts each HA VM of host1 once.
 */
export async function leaderKilledScenario(bed: Bed): Promise<void> {
  const vms = await populate(bed, plan());
  const ha = vms.host1!.filter((v) => v.ha);
  const old = await bed.leader();
  const other = bed.replicas.find((r) => r !== old)!;
  const t0 = Date.now();
  await bed.faults!.cutHost('host1', 'both');
  await bed.until(
    'the BMC of host1 to carry out a power off',
    () => bed.bmc('host1').transitions().includes('power 0'),
    120_000,
    20,
  );
  await old.kill();
  const tKilled = Date.now();
  const confirmedBefore = logLinesMatching(bed, /host1 \w+ -> PowerOffConfirmed/, t0).filter((l) =>
    l.startsWith(old.name),
  );
  expect(confirmedBefore, 'the leader was killed after `off` and before OFF was confirmed').toEqual([]);

  await bed.until(`${other.name} to lead`, async () => (await other.health())?.role === 'leader', 60_000);
  await untilRestarted(bed, 'host1', ha, t0);
  await sleep(5000);
  await reportFence(bed, 'leader killed between off and OFF confirmed', t0, vms.host1!, {
    'leader killed': { what: 'bed', at: tKilled, where: old.name },
  });

  expect(bed.bmc('host1').transitions(), 'one power off, not sent again').toEqual(['power 0']);
  expect(transitions(bed)).toEqual({ host1: ['power 0'], host2: [], host3: [] });
  const confirmed = logLinesMatching(bed, /host1 \w+ -> PowerOffConfirmed/, t0);
  expect(confirmed.length, 'OFF confirmed').toBeGreaterThan(0);
  expect(
    confirmed.every((l) => l.startsWith(other.name)),
    confirmed.join('\n'),
  ).toBe(true);
  await expectRecovered(bed, vms, t0);
}

/**
 * Scenario 5: host1's BMC dead (its ipmi_sim stopped), then host1's power lost: nothing can confirm it off, so
 * nothing is restarted and an alert is raised; `confirm-rebooted` is refused without `--yes`, and with it (a person
 * says the host is off) its HA VMs start elsewhere, once.
 */
export async function bmcDeadScenario(bed: Bed): Promise<void> {
  const vms = await populate(bed, plan());
  const t0 = Date.now();
  await bed.bmc('host1').kill();
  await bed.host('host1').powerOff();
  const down = Date.now();

  const leader = await bed.leader();
  const alertsFor1 = async () =>
    (await leader.events()).filter((e) => e.host === 'host1' && e.alert && Date.parse(e.time) >= t0);
  await bed.until(
    'host1 in FenceFailed or AwaitingManualConfirm, with an alert for it',
    async () => {
      const early = Object.entries(whereSeen(bed, vms.host1!, down)).filter(([, on]) => on.length > 0);
      if (early.length) throw new Error(`restarted before anyone confirmed: ${JSON.stringify(early)}`);
      const state = await hostState(bed, 'host1');
      return (state === 'FenceFailed' || state === 'AwaitingManualConfirm') && (await alertsFor1()).length > 0;
    },
    120_000,
  );
  await sleep(8000); // nothing restarts while nobody confirmed (a few more rounds)
  const ha = vms.host1!.filter((v) => v.ha);
  expect(whereSeen(bed, vms.host1!, down)).toEqual({ 'h1-ha-a': [], 'h1-ha-b': [], 'h1-plain': [] });
  expect(total(rpcCalls(bed, 'VM.create', t0))).toBe(0);
  console.log(`alerts for host1:\n${(await alertsFor1()).map((e) => `  ${e.time} ${e.kind} ${e.text}`).join('\n')}`);

  const refused = await leader.cli(['confirm-rebooted', 'host1']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/twice/);
  const tConfirm = Date.now();
  await leader.cliOk(['confirm-rebooted', 'host1', '--yes']);
  await untilRestarted(bed, 'host1', ha, tConfirm);
  await sleep(5000);
  printTimeline('BMC dead, then confirm-rebooted', t0, {
    ...(await fenceTimeline(
      bed,
      'host1',
      t0,
      ha.map((v) => v.id),
    )),
    'confirm-rebooted': { what: 'cli', at: tConfirm, where: 'bed' },
  });
  expect(bed.desk.served).toEqual([]);
  expect(transitions(bed), 'no power action: the BMC was dead').toEqual({ host1: [], host2: [], host3: [] });
  const confirmed = (await leader.events()).filter((e) => e.kind === 'command' && /bed-admin/.test(e.text));
  expect(confirmed.map((e) => e.text).join('\n')).toMatch(/confirm/i);
  await expectRecovered(bed, vms, t0);
}

/**
 * Scenario 10: two replicas; host1 powered off behind its live BMC; the leader frozen (SIGSTOP) the moment it sent
 * the first VM.create of host1's HA VMs, before the second (h1-ha-b, priority 40, waits for h1-ha-a, priority 60,
 * to be Up), for more than twice the lease TTL. The other replica leads, adopts h1-ha-a and starts h1-ha-b once; the
 * old leader, resumed, has no side effect: its transactions are refused (the audit trail says so).
 */
export async function leaderFrozenMidRestartScenario(bed: Bed, ttlSeconds: number): Promise<void> {
  const vms = await populate(bed, plan());
  const [first, second] = vms.host1!.filter((v) => v.ha) as [BedVm, BedVm];
  const old = await bed.leader();
  const oldEpoch = (await old.health())!.epoch!;
  const other = bed.replicas.find((r) => r !== old)!;
  const t0 = Date.now();
  const sent = (vm: BedVm) =>
    old
      .logLines()
      .some(
        (l) =>
          typeof l.time === 'number' &&
          l.time >= t0 &&
          typeof l.decision === 'string' &&
          l.decision.startsWith(`${vm.id}: VM.create on`),
      );
  await bed.bmc('host1').powerCut();
  await bed.until(`${old.name} to send the VM.create of h1-ha-a`, () => sent(first), 120_000, 20);
  old.freeze();
  const tFrozen = Date.now();
  expect(sent(second), 'the leader was frozen between the two restarts').toBe(false);

  await bed.until(`${other.name} to lead`, async () => (await other.health())?.role === 'leader', 60_000);
  await untilRestarted(bed, 'host1', [first, second], t0);
  await bed.until('twice the lease TTL since the freeze', () => Date.now() - tFrozen > 2 * ttlSeconds * 1000, 60_000);
  // wait for the hosts' log lines of every VM.create (vdsmd flushes its log in batches)
  await bed.until("every VM.create in the hosts' logs", () => total(rpcCalls(bed, 'VM.create', t0)) >= 2, 10_000, 100);
  const before = { transitions: transitions(bed), creates: rpcCalls(bed, 'VM.create', t0) };
  const tThaw = Date.now();
  old.thaw();
  await bed.until(
    `${old.name} to follow after its resume`,
    async () => (await old.health())?.role === 'follower',
    30_000,
  );
  await sleep(8000); // what it would still do, it does within a few ticks
  await reportFence(bed, 'leader frozen mid-restart', t0, vms.host1!, {
    'leader frozen': { what: 'bed', at: tFrozen, where: old.name },
    'leader resumed': { what: 'bed', at: tThaw, where: old.name },
  });

  const stepped = await bed.until(
    `the audit trail to tell that ${old.name} stepped down`,
    async () => (await other.events()).find((e) => e.kind === 'leadership'),
    30_000,
  );
  console.log(`audit: ${stepped.text}`);
  expect(stepped.text).toContain(`${old.name} stepped down from epoch ${oldEpoch}`);
  expect(stepped.text).toContain(`etcd refused a transaction guarded by epoch ${oldEpoch}`);
  expect(stepped.text).toMatch(new RegExp(`etcd named ${other.name} \\(epoch \\d+\\) as leader`));
  expect(transitions(bed), 'nothing from the old leader after its resume').toEqual(before.transitions);
  expect(rpcCalls(bed, 'VM.create', t0), 'no VM.create from the old leader after its resume').toEqual(before.creates);
  expect(sent(second), 'the old leader never sent the second VM.create').toBe(false);
  await expectRecovered(bed, vms, t0);
}

/**
 * Scenario 11: every etcd member killed (quorum lost), then host1 frozen: no replica leads and nothing is done to
 * host1 for 30 s (three times what detection and a fence take with a leader); etcd back, a leader takes the flow
 * up where the intents say: host1 fenced once, its HA VMs started once.
 */
export async function etcdGoneScenario(bed: Bed): Promise<void> {
  const vms = await populate(bed, plan());
  const t0 = Date.now();
  await bed.etcd!.killAll();
  await bed.faults!.freezeHost('host1');

  const leaders = async () =>
    (await Promise.all(bed.replicas.map(async (r) => (await r.health())?.role))).filter((x) => x === 'leader').length;
  await bed.until('no replica to lead', async () => (await leaders()) === 0, 30_000);
  const tNoLeader = Date.now();
  await sleep(30_000);
  expect(await leaders()).toBe(0);
  expect(transitions(bed)).toEqual({ host1: [], host2: [], host3: [] });
  expect(bed.desk.served).toEqual([]);
  expect(total(rpcCalls(bed, 'VM.create', t0))).toBe(0);
  expect(total(rpcCalls(bed, 'Host.fenceNode', t0))).toBe(0);
  expect(whereSeen(bed, [...vms.host2!, ...vms.host3!], t0)).toEqual({ 'h2-ha': ['host2'], 'h3-plain': ['host3'] });

  const tBack = Date.now();
  await bed.etcd!.startAll();
  await bed.leader(60_000);
  const ha = vms.host1!.filter((v) => v.ha);
  await untilFencedAndRestarted(bed, 'host1', ha, tBack);
  await sleep(5000);
  printTimeline('etcd gone, then back', t0, {
    'no leader': { what: 'bed', at: tNoLeader, where: 'health' },
    'etcd back': { what: 'bed', at: tBack, where: 'bed' },
    ...(await fenceTimeline(
      bed,
      'host1',
      t0,
      ha.map((v) => v.id),
    )),
  });
  expect(bed.bmc('host1').transitions()).toEqual(['power 0']);
  await expectRecovered(bed, vms, t0);
}
