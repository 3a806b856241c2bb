/**
 * The classic hosted-engine HA test plan, end to end on the cluster test bed (test/cluster/cluster.ts): three
 * hosts in network namespaces, sanlock, libvirt with its sanlock lock manager, the engine VM a real QEMU guest.
 * Every scenario starts from the engine VM Up and healthy on one host, injects one fault, and prints how long
 * until the engine VM was Up (QEMU running under the lease) and healthy (its host's broker reads the health
 * page as good) again. A sampler asks every host's libvirt every 100 ms; from the fault to the recovery every
 * scenario requires (see Safety in cluster.ts): no sample with the engine VM on two hosts; no gap over 1 s between
 * samples; an unknown is never read as "not running": a host not under fault must be known at least once a
 * second, and running + unknown > 1 (no proof of single-running) must not last over 1 s, whichever host is
 * unknown. It prints the unknowns it saw. Which hosts are "under fault" is said per scenario: only those whose
 * libvirtd the fault may stop answering (the killed host, the host without storage).
 * One scenario has a second host ask for the engine VM while it runs: sanlock, through libvirt, refuses.
 * Timings: the fast profile (1 s agent ticks, sanlock io_timeout 1 s); see docs/hosted-engine.md.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { callBroker } from '../../src/hosted-engine/broker/rpc.js';
import { describeSafety, MAX_GAP_MS, measureRecovery, nowhere, safetyProblems, settledEngine, startCluster, type Cluster, type Safety, type Sample } from './cluster.js';
import { runCommand } from './run-command.js';

let c: Cluster;
const table: { scenario: string; up: string; healthy: string; outcome: string }[] = [];

const seconds = (ms: number) => (ms / 1000).toFixed(1);

const settled = (timeoutMs = 120_000) => settledEngine(c, timeoutMs);

/** Never seen on another host, never seen gone from `host` (unknowns are left to the safety rules). */
const stayedOn = (samples: Sample[], host: number) => samples.every((s) => s.running.every((h) => h === host) && (s.running.includes(host) || s.unknown.includes(host)));

/** Prints what the samples of a window show and fails on every broken rule (see Safety in cluster.ts). */
function expectSafe(scenario: string, s: Safety): void {
  console.log(`he-failover: ${scenario}: ${describeSafety(s)}`);
  expect(safetyProblems(s), `${scenario}: the samples prove the engine VM ran on at most one host`).toEqual([]);
}

/**
 * Waits for recovery after a fault injected at `at`, checks the samples from the fault to the recovery (unknowns
 * expected only on `faulted`), records the row.
 */
async function recovery(scenario: string, at: number, victim: number, opts: { elsewhere?: boolean; timeoutMs?: number; faulted?: number[] } = {}): Promise<number> {
  const r = await measureRecovery(c, at, victim, { ...opts, what: scenario });
  expect(r.twice, `${scenario}: samples with the engine VM on two hosts`).toEqual([]);
  expectSafe(scenario, r.safety);
  table.push({ scenario, up: seconds(r.upMs), healthy: seconds(r.healthyMs), outcome: `host ${victim} → host ${r.host}` });
  console.log(`he-failover: ${scenario}: Up after ${seconds(r.upMs)} s, healthy after ${seconds(r.healthyMs)} s (host ${victim} → host ${r.host})`);
  return r.host;
}

/**
 * While the engine VM runs on one host, another host asks for it: the CLI refuses (it looks at the lease first),
 * then the start the CLI would make goes to that host's vdsmd anyway, and sanlock (libvirt's lock manager, before
 * QEMU is exec'd) must refuse it: the VM Down with "Failed to acquire lock", libvirtd's error, one QEMU (counted
 * in /proc per namespace, not asked of libvirt) all along. `lease: false` leaves the <lease> out: the check must
 * then fail (shown once by hand; not part of the suite).
 */
async function secondStart(opts: { lease?: boolean } = {}): Promise<void> {
  const owner = await settled();
  const other = c.hosts.find((h) => !h.dead && h.id !== owner)!;
  // Its agent would power off (as "lease lost") the VM we are about to start there, perhaps before libvirt
  // even tries: stopped, the host is only an admin asking for the engine VM.
  await c.stopAgent(other.id);
  try {
    const at = Date.now();
    const cli = await c.hostedEngine(other.id, ['--vm-start']);
    expect([cli.code, cli.stdout.trim()], cli.stderr).toEqual([1, `The engine VM lease is held by host ${owner}: is the engine VM running there?`]);
    const lease = await callBroker<string | null>(other.brokerSocket, 'leaseXml', {}, 10_000);
    expect(lease).toMatch(/<lease><lockspace>hosted-engine<\/lockspace><key>engine-vm<\/key>/);
    const engineXml = readFileSync(join(c.dir, 'engine.xml'), 'utf8');
    const xml = opts.lease === false ? engineXml : engineXml.replace('</devices>', `  ${lease}\n  </devices>`);
    const params = join(other.dir, 'second-start.json');
    writeFileSync(params, JSON.stringify({ vmID: c.vmId, vmParams: { vmId: c.vmId, xml } }));
    const libvirtdLog = join(other.libvirtd.dir, 'libvirtd.log');
    const logBefore = readFileSync(libvirtdLog, 'utf8').length;
    const qemus: Record<number, number>[] = [c.qemuProcesses()];
    const create = await c.vdsmClient(other.id, ['-f', params, 'VM', 'create']);
    expect(create.code, create.stderr).toBe(0);
    // vdsmd starts the domain in the background: its VM leaves WaitForLaunch (Down, with the lock error). QEMUs
    // counted meanwhile.
    let stats: { status: string; exitMessage?: string } | undefined;
    const deadline = Date.now() + 90_000;
    for (let i = 0; i < 300 && (stats === undefined || stats.status === 'WaitForLaunch') && Date.now() < deadline; i++) {
      qemus.push(c.qemuProcesses());
      const r = await c.vdsmClient(other.id, ['VM', 'getStats', `vmID=${c.vmId}`]);
      if (r.code === 0) stats = (JSON.parse(r.stdout) as { status: string; exitMessage?: string }[])[0];
      if (stats === undefined || stats.status === 'WaitForLaunch') await new Promise((res) => setTimeout(res, 200));
    }
    await new Promise((res) => setTimeout(res, 1000)); // a QEMU that did start would be seen by now
    qemus.push(c.qemuProcesses());
    console.log(`he-failover: second start on host ${other.id}: ${stats?.status}, ${stats?.exitMessage}; QEMUs per host, last of ${qemus.length} looks: ${JSON.stringify(qemus.at(-1))}`);
    expect.soft(stats?.status, JSON.stringify(stats)).toBe('Down');
    expect.soft(stats?.exitMessage).toMatch(/Failed to acquire lock/);
    expect.soft(readFileSync(libvirtdLog, 'utf8').slice(logBefore)).toMatch(/ error : .*Failed to acquire lock/);
    // One QEMU on the owner at every look. On the refusing host a QEMU process with the engine VM's id can exist for
    // a moment while libvirt sets the domain up (seen in 1 of 4 looks); libvirt never reports that domain running or
    // paused there (the sampler, below), and once the start has failed no QEMU is left but the owner's.
    const one = Object.fromEntries(c.hosts.filter((h) => !h.dead).map((h) => [h.id, h.id === owner ? 1 : 0]));
    expect.soft(qemus.filter((q) => q[owner] !== 1), 'looks without the QEMU on the owner').toEqual([]);
    expect.soft(qemus.at(-1), 'QEMUs once the second start has failed').toEqual(one);
    expect.soft(stayedOn(c.samplesSince(at), owner), 'the engine VM stayed on its host alone').toBe(true);
    expectSafe('second start refused', c.safety(at));
  } finally {
    await c.vdsmClient(other.id, ['VM', 'destroy', `vmID=${c.vmId}`]);
    c.startAgent(other.id);
  }
}

// A failing scenario prints what every agent and libvirtd last did: CI keeps no files.
afterEach(({ task }) => {
  if (task.result?.state === 'fail' && c) console.log(`he-failover: after "${task.name}":\n${c.diagnose(25)}`);
});

beforeAll(async () => {
  c = await startCluster({ profile: 'fast' });
}, 120_000);

afterAll(async () => {
  await c?.stop();
  if (table.length) {
    console.log(['he-failover: scenario | fault → Up (s) | fault → healthy (s) | where', ...table.map((r) => `  ${r.scenario} | ${r.up} | ${r.healthy} | ${r.outcome}`)].join('\n'));
  }
}, 120_000);

describe('the classic hosted-engine HA failures, on three real hosts', () => {
  it('starts the engine VM on exactly one host', async () => {
    const host = await settled();
    const s = await c.hostedEngine(host, ['--vm-status', '--json']);
    const status = JSON.parse(s.stdout) as Record<string, { 'engine-status'?: { vm: string; health: string }; score?: number }>;
    expect(status[String(host)]?.['engine-status']).toMatchObject({ vm: 'up', health: 'good' });
    expect((await c.broker(host)).lockspace).toEqual({ joined: true, error: null });
  }, 150_000);

  it('sanlock refuses a second start: another host asks for the engine VM while it runs; libvirt fails to acquire the lease and one QEMU runs', () => secondStart(), 240_000);

  // Killing QEMU leaves every libvirtd answering: no unknown is expected anywhere (the same in every scenario
  // below that does not say otherwise).
  it('engine VM killed: another host starts it', async () => {
    const victim = await settled();
    const at = Date.now();
    await c.faults.killVm(victim);
    await recovery('engine VM killed', at, victim, { elsewhere: true });
  }, 300_000);

  // The engine VM runs on, but nobody reaches a healthy engine: the agent stops it (the VM must first go away),
  // and a new instance comes up healthy.
  for (const t of [
    { title: 'engine service down (bad health): the engine VM is restarted and healthy again', scenario: 'engine service down', gone: 'the unhealthy engine VM stopped', fault: () => c.faults.engineService(false) },
    { title: 'engine VM network down: the engine VM is restarted and reachable again', scenario: 'engine VM network down', gone: 'the unreachable engine VM stopped', fault: () => c.faults.engineNetwork(false) },
  ]) {
    it(t.title, async () => {
      const victim = await settled();
      const at = Date.now();
      t.fault();
      await c.until(t.gone, nowhere, 120_000);
      await recovery(t.scenario, at, victim);
    }, 300_000);
  }

  it('vdsmd killed (restarted 2 s later, as systemd does): the engine VM keeps running where it is', async () => {
    const victim = await settled();
    const at = Date.now();
    await c.faults.killVdsmd(victim, 2000);
    const host = await recovery('vdsmd killed', at, victim);
    expect(host).toBe(victim);
    expect(stayedOn(c.samplesSince(at), victim), 'the engine VM never stopped').toBe(true);
  }, 300_000);

  // The sampler asks libvirt through its unix socket, from outside the namespace: a cut link does not blind it.
  it("running host's network cut: the engine VM moves to a host with network", async () => {
    const victim = await settled();
    const at = Date.now();
    await c.faults.cutNetwork(victim);
    try {
      await recovery("running host's network cut", at, victim, { elsewhere: true });
    } finally {
      await c.faults.restoreNetwork(victim);
    }
  }, 300_000);

  it('all hosts lose their network: nobody starts or stops the engine VM; it is healthy once the network returns', async () => {
    const victim = await settled();
    const at = Date.now();
    for (const h of c.hosts) await c.faults.cutNetwork(h.id);
    try {
      await new Promise((r) => setTimeout(r, 20_000));
      expect(stayedOn(c.samplesSince(at), victim), 'the engine VM stayed where it was').toBe(true);
      expectSafe('all networks cut (20 s)', c.safety(at));
    } finally {
      for (const h of c.hosts) await c.faults.restoreNetwork(h.id);
    }
    // Timed from the network's return; no sample since the fault may show the engine VM twice.
    await recovery('all networks cut for 20 s (from restore)', Date.now(), victim);
    expectSafe('all networks cut, cut to recovery', c.safety(at));
  }, 300_000);

  // Unknowns expected on the victim only: its libvirtd may hang on the lost storage. They must never overlap
  // with another host running the engine VM (that sample would prove nothing): running + unknown ≤ 1 holds.
  it('storage lost on the running host: sanlock kills the engine VM there; another host starts it once the lease is free', async () => {
    const victim = await settled();
    const at = Date.now();
    await c.faults.cutStorage(victim);
    try {
      await c.until('the engine VM gone from the host without storage', (s) => !s.running.includes(victim) && !s.unknown.includes(victim), 60_000);
      console.log(`he-failover: storage lost: sanlock stopped the engine VM on host ${victim} after ${seconds(Date.now() - at)} s`);
      await recovery('storage lost on the running host', at, victim, { elsewhere: true, timeoutMs: 240_000, faulted: [victim] });
    } finally {
      await c.faults.restoreStorage(victim);
    }
    // The broker joins the lockspace again by itself once the storage is back.
    const deadline = Date.now() + 60_000;
    while (!(await c.broker(victim).then((s) => s.lockspace?.joined, () => false)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect((await c.broker(victim)).lockspace?.joined).toBe(true);
  }, 400_000);

  it('running host killed (every process and its namespace): another host starts the engine VM once sanlock says the host is dead', async () => {
    const victim = await settled();
    const at = Date.now();
    // Unknowns expected on the victim only, from its libvirtd's death until every process of it is gone (then it
    // is dead and no longer asked); another host may start the engine VM only 68 s later.
    await c.faults.killHost(victim);
    await recovery('running host killed', at, victim, { elsewhere: true, timeoutMs: 240_000, faulted: [victim] });
    // The dead host's metadata can be cleaned now that sanlock knows it dead; a live host's cannot.
    const survivor = c.last().running[0]!;
    const live = c.hosts.find((h) => !h.dead && h.id !== survivor)!;
    const refused = await c.hostedEngine(survivor, ['--clean-metadata', `--host-id=${live.id}`, '--force-cleanup']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(`host ${live.id} is LIVE in the sanlock lockspace`);
    const cleaned = await c.hostedEngine(survivor, ['--clean-metadata', `--host-id=${victim}`, '--force-cleanup']);
    expect(cleaned.code, cleaned.stderr).toBe(0);
    const status = JSON.parse((await c.hostedEngine(survivor, ['--vm-status', '--json'])).stdout) as Record<string, unknown>;
    expect(status[String(victim)]).toBeUndefined();
  }, 400_000);

  it('--reinitialize-lockspace: refused while agents run; with the engine VM off and the agents stopped it writes a fresh lockspace that the hosts rejoin', async () => {
    const owner = await settledEngine(c);
    const at = Date.now();
    const live = c.hosts.filter((h) => !h.dead);
    const refused = await c.hostedEngine(owner, ['--reinitialize-lockspace']);
    expect([refused.code, refused.stderr.trim()]).toEqual([1, 'hosted-engine: Lockspace reinitialization is possible in global maintenance mode only']);
    expect((await c.hostedEngine(owner, ['--set-maintenance', '--mode=global'])).code).toBe(0);
    expect((await c.hostedEngine(owner, ['--vm-poweroff'])).code).toBe(0);
    await c.until('the engine VM off', nowhere, 30_000);
    for (const h of live) await c.stopAgent(h.id);
    const lockspace = join(live[0]!.storage.mountpoint, 'hosted-engine.lockspace');
    const before = await runCommand('sanlock', ['direct', 'dump', lockspace]);
    expect(before.stdout).toMatch(/hosted-engine/);
    const reinit = await c.hostedEngine(owner, ['--reinitialize-lockspace']);
    expect(reinit.code, reinit.stderr).toBe(0);
    // The brokers notice that sanlock dropped them (their host-id leases were overwritten) and join again.
    const deadline = Date.now() + 90_000;
    for (const h of live) {
      while (!(await c.broker(h.id).then((s) => s.lockspace?.joined === true && s.lockspace.error === null, () => false)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    }
    for (const h of live) c.startAgent(h.id);
    expect((await c.hostedEngine(owner, ['--set-maintenance', '--mode=none'])).code).toBe(0);
    await settledEngine(c, 120_000);
    expectSafe('reinitialize-lockspace', c.safety(at));
  }, 300_000);

  // Over the whole run, between scenarios too (set-up, recovery, hosts coming back): no sample ever saw the engine VM
  // on two hosts. The stricter rules (no gap, no unknown stretch over MAX_GAP_MS) are judged inside each fault window
  // above, as the failure plan asks; out here a busy machine's slow libvirt answer is counted and printed.
  it('never ran the engine VM on two hosts at once', () => {
    const t = c.totals();
    console.log(`he-failover: whole run: ${t.samples} samples, unknowns ${JSON.stringify(t.unknownByHost)}, libvirt unknowns settled by /proc ${JSON.stringify(t.byProcByHost)}, running + unknown > 1 in ${t.unproven} (longest run ${t.longestUnprovenMs} ms, ${t.longestUnprovenMs > MAX_GAP_MS ? 'over' : 'within'} ${MAX_GAP_MS} ms)`);
    expect(c.maxRunning()).toBe(1);
  });
});
