/**
 * The classic hosted-engine HA test plan, end to end on the cluster test bed (test/cluster/cluster.ts): three
 * hosts in network namespaces, sanlock, libvirt with its sanlock lock manager, the engine VM a real QEMU guest.
 * Every scenario starts from the engine VM Up and healthy on one host, injects one fault, and prints how long
 * until the engine VM was Up (QEMU running under the lease) and healthy (its host's broker reads the health
 * page as good) again. A sampler checks every 100 ms that no two hosts ever run the engine VM at once.
 * Timings: the fast profile (1 s agent ticks, sanlock io_timeout 1 s); see docs/hosted-engine.md.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { measureRecovery, settledEngine, startCluster, type Cluster } from './cluster.js';
import { runCommand } from './run-command.js';


let c: Cluster;
const table: { scenario: string; up: string; healthy: string; outcome: string }[] = [];

const seconds = (ms: number) => (ms / 1000).toFixed(1);

const settled = (timeoutMs = 120_000) => settledEngine(c, timeoutMs);

/** Waits for recovery after a fault injected at `at`, checks the engine VM never ran twice since, records the row. */
async function recovery(scenario: string, at: number, victim: number, opts: { elsewhere?: boolean; timeoutMs?: number } = {}): Promise<number> {
  const r = await measureRecovery(c, at, victim, { ...opts, what: scenario });
  expect(r.twice, `${scenario}: samples with the engine VM on two hosts`).toEqual([]);
  table.push({ scenario, up: seconds(r.upMs), healthy: seconds(r.healthyMs), outcome: `host ${victim} → host ${r.host}` });
  console.log(`he-failover: ${scenario}: Up after ${seconds(r.upMs)} s, healthy after ${seconds(r.healthyMs)} s (host ${victim} → host ${r.host})`);
  return r.host;
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
      await c.until(t.gone, (s) => s.running.length === 0, 120_000);
      await recovery(t.scenario, at, victim);
    }, 300_000);
  }

  it('vdsmd killed (restarted 2 s later, as systemd does): the engine VM keeps running where it is', async () => {
    const victim = await settled();
    const at = Date.now();
    await c.faults.killVdsmd(victim, 2000);
    const host = await recovery('vdsmd killed', at, victim);
    expect(host).toBe(victim);
    expect(c.samplesSince(at).every((s) => s.running.length === 1 && s.running[0] === victim), 'the engine VM never stopped').toBe(true);
  }, 300_000);

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
      expect(c.samplesSince(at).every((s) => s.running.length === 1 && s.running[0] === victim), 'the engine VM stayed where it was').toBe(true);
    } finally {
      for (const h of c.hosts) await c.faults.restoreNetwork(h.id);
    }
    // Timed from the network's return; no sample since the fault may show the engine VM twice.
    await recovery('all networks cut for 20 s (from restore)', Date.now(), victim);
    expect(c.samplesSince(at).filter((s) => s.running.length > 1)).toEqual([]);
  }, 300_000);

  it('storage lost on the running host: sanlock kills the engine VM there; another host starts it once the lease is free', async () => {
    const victim = await settled();
    const at = Date.now();
    await c.faults.cutStorage(victim);
    try {
      await c.until('the engine VM gone from the host without storage', (s) => !s.running.includes(victim), 60_000);
      console.log(`he-failover: storage lost: sanlock stopped the engine VM on host ${victim} after ${seconds(Date.now() - at)} s`);
      await recovery('storage lost on the running host', at, victim, { elsewhere: true, timeoutMs: 240_000 });
    } finally {
      await c.faults.restoreStorage(victim);
    }
    // The broker joins the lockspace again by itself once the storage is back.
    await c.until('the host back in the lockspace', () => true, 1000);
    const deadline = Date.now() + 60_000;
    while (!(await c.broker(victim).then((s) => s.lockspace?.joined, () => false)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect((await c.broker(victim)).lockspace?.joined).toBe(true);
  }, 400_000);

  it('running host killed (every process and its namespace): another host starts the engine VM once sanlock says the host is dead', async () => {
    const victim = await settled();
    const at = Date.now();
    await c.faults.killHost(victim);
    await recovery('running host killed', at, victim, { elsewhere: true, timeoutMs: 240_000 });
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
    const live = c.hosts.filter((h) => !h.dead);
    const refused = await c.hostedEngine(owner, ['--reinitialize-lockspace']);
    expect([refused.code, refused.stderr.trim()]).toEqual([1, 'hosted-engine: Lockspace reinitialization is possible in global maintenance mode only']);
    expect((await c.hostedEngine(owner, ['--set-maintenance', '--mode=global'])).code).toBe(0);
    expect((await c.hostedEngine(owner, ['--vm-poweroff'])).code).toBe(0);
    await c.until('the engine VM off', (s) => s.running.length === 0, 30_000);
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
  }, 300_000);

  it('never ran the engine VM on two hosts at once', () => {
    expect(c.maxRunning()).toBe(1);
  });
});
