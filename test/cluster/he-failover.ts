/**
 * The classic hosted-engine HA test plan on the cluster test bed (test/cluster/cluster.ts), shared by its two files
 * (each starts a bed of its own, so that the two halves run at the same time):
 * - he-failover-lease.test.ts: the faults sanlock decides (a second start, storage lost, host killed, a new
 *   lockspace);
 * - he-failover-agents.test.ts: the faults the agents' monitors decide (engine VM killed, its service or network
 *   down, vdsmd killed, a host's network or every network cut).
 * Three hosts in network namespaces, sanlock, libvirt with its sanlock lock manager, the engine VM a real QEMU guest.
 * Every scenario starts from the engine VM Up and healthy on one host, injects one fault, and prints how long
 * until the engine VM was Up (QEMU running under the lease) and healthy (its host's broker reads the health
 * page as good) again. A sampler asks every host's libvirt every 100 ms; from the fault to the recovery every
 * scenario requires (see Safety in cluster.ts): no sample with the engine VM on two hosts; no gap over 1 s between
 * samples; an unknown is never read as "not running" (a host not under fault unknown, or running + unknown > 1,
 * for longer than the rules allow fails). It prints the unknowns it saw. Which hosts are "under fault" is said per
 * scenario: only those whose libvirtd the fault may stop answering (the killed host, the host without storage).
 * Timings: the fast profile (1 s agent ticks, sanlock io_timeout 1 s); see docs/hosted-engine.md.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { brokerClient } from '../../src/hosted-engine/broker/client.js';
import { logSince, logSize } from '../support/logs.js';
import { sleep, waitFor } from '../support/wait.js';
import {
  describeSafety,
  MAX_GAP_MS,
  measureRecovery,
  safetyProblems,
  settledEngine,
  startCluster,
  type Cluster,
  type Safety,
  type Sample,
} from './cluster.js';

export const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** Never seen on another host, never seen gone from `host` (unknowns are left to the safety rules). */
export const stayedOn = (samples: Sample[], host: number) =>
  samples.every((s) => s.running.every((h) => h === host) && (s.running.includes(host) || s.unknown.includes(host)));

export interface FailoverBed {
  /** The running bed (set once beforeAll has run). */
  readonly c: Cluster;
  /** The host where the engine VM is Up and healthy, once it is. */
  settled(timeoutMs?: number): Promise<number>;
  /** Prints what the samples of a window show and fails on every broken rule (see Safety in cluster.ts). */
  expectSafe(scenario: string, s: Safety): void;
  /**
   * Waits for recovery after a fault injected at `at`, checks the samples from the fault to the recovery (unknowns
   * expected only on `faulted`), records the row; the host where the engine VM runs then.
   */
  recovery(
    scenario: string,
    at: number,
    victim: number,
    opts?: { elsewhere?: boolean; timeoutMs?: number; faulted?: number[] },
  ): Promise<number>;
  secondStart(opts?: { lease?: boolean }): Promise<void>;
  /** Registers the first test: the bed starts the engine VM on one host, Up, healthy, its broker in the lockspace. */
  startsOnOneHost(): void;
  /** Registers the last test: over the whole run no sample saw the engine VM on two hosts. */
  neverTwice(): void;
}

/** Starts a bed for the calling file (beforeAll), stops it (afterAll), prints its timings table and diagnoses failures. */
export function failoverBed(name: string): FailoverBed {
  let cluster: Cluster | undefined;
  const table: { scenario: string; up: string; healthy: string; outcome: string }[] = [];
  const bed: FailoverBed = {
    get c(): Cluster {
      if (!cluster) throw new Error('the cluster test bed did not start');
      return cluster;
    },
    settled: (timeoutMs = 120_000) => settledEngine(bed.c, timeoutMs),
    expectSafe,
    recovery,
    secondStart,
    startsOnOneHost,
    neverTwice,
  };

  function expectSafe(scenario: string, s: Safety): void {
    console.log(`${name}: ${scenario}: ${describeSafety(s)}`);
    expect(safetyProblems(s), `${scenario}: the samples prove the engine VM ran on at most one host`).toEqual([]);
  }

  async function recovery(
    scenario: string,
    at: number,
    victim: number,
    opts: { elsewhere?: boolean; timeoutMs?: number; faulted?: number[] } = {},
  ): Promise<number> {
    const r = await measureRecovery(bed.c, at, victim, { ...opts, what: scenario });
    expect(r.twice, `${scenario}: samples with the engine VM on two hosts`).toEqual([]);
    expectSafe(scenario, r.safety);
    table.push({
      scenario,
      up: seconds(r.upMs),
      healthy: seconds(r.healthyMs),
      outcome: `host ${victim} → host ${r.host}`,
    });
    console.log(
      `${name}: ${scenario}: Up after ${seconds(r.upMs)} s, healthy after ${seconds(r.healthyMs)} s (host ${victim} → host ${r.host})`,
    );
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
    const c = bed.c;
    const owner = await bed.settled();
    const other = c.hosts.find((h) => !h.dead && h.id !== owner)!;
    // Its agent would power off (as "lease lost") the VM we are about to start there, perhaps before libvirt
    // even tries: stopped, the host is only an admin asking for the engine VM.
    await c.stopAgent(other.id);
    try {
      const at = Date.now();
      const cli = await c.hostedEngine(other.id, ['--vm-start']);
      expect([cli.code, cli.stdout.trim()], cli.stderr).toEqual([
        1,
        `The engine VM lease is held by host ${owner}: is the engine VM running there?`,
      ]);
      const lease = await brokerClient(other.brokerSocket).call('leaseXml', {}, { timeoutMs: 10_000 });
      expect(lease).toMatch(/<lease><lockspace>hosted-engine<\/lockspace><key>engine-vm<\/key>/);
      const engineXml = readFileSync(join(c.dir, 'engine.xml'), 'utf8');
      const xml = opts.lease === false ? engineXml : engineXml.replace('</devices>', `  ${lease}\n  </devices>`);
      const params = join(other.dir, 'second-start.json');
      writeFileSync(params, JSON.stringify({ vmID: c.vmId, vmParams: { vmId: c.vmId, xml } }));
      const libvirtdLog = join(other.libvirtd.dir, 'libvirtd.log');
      const logBefore = logSize(libvirtdLog);
      const qemus: Record<number, number>[] = [await c.qemuProcesses()];
      const create = await c.vdsmClient(other.id, ['-f', params, 'VM', 'create']);
      expect(create.code, create.stderr).toBe(0);
      // vdsmd starts the domain in the background: its VM leaves WaitForLaunch (Down, with the lock error). QEMUs
      // counted meanwhile.
      let stats: { status: string; exitMessage?: string } | undefined;
      const deadline = Date.now() + 90_000;
      for (
        let i = 0;
        i < 300 && (stats === undefined || stats.status === 'WaitForLaunch') && Date.now() < deadline;
        i++
      ) {
        qemus.push(await c.qemuProcesses());
        const r = await c.vdsmClient(other.id, ['VM', 'getStats', `vmID=${c.vmId}`]);
        if (r.code === 0) stats = (JSON.parse(r.stdout) as { status: string; exitMessage?: string }[])[0];
        if (stats === undefined || stats.status === 'WaitForLaunch') await sleep(200);
      }
      await sleep(1000); // a QEMU that did start would be seen by now
      qemus.push(await c.qemuProcesses());
      console.log(
        `${name}: second start on host ${other.id}: ${stats?.status}, ${stats?.exitMessage}; QEMUs per host, last of ${qemus.length} looks: ${JSON.stringify(qemus.at(-1))}`,
      );
      expect.soft(stats?.status, JSON.stringify(stats)).toBe('Down');
      expect.soft(stats?.exitMessage).toMatch(/Failed to acquire lock/);
      expect.soft(await logSince(libvirtdLog, logBefore)).toMatch(/ error : .*Failed to acquire lock/);
      // One QEMU on the owner at every look. On the refusing host a QEMU process with the engine VM's id can exist for
      // a moment while libvirt sets the domain up (seen in 1 of 4 looks); libvirt never reports that domain running or
      // paused there (the sampler, below), and once the start has failed no QEMU is left but the owner's.
      const one = Object.fromEntries(c.hosts.filter((h) => !h.dead).map((h) => [h.id, h.id === owner ? 1 : 0]));
      expect
        .soft(
          qemus.filter((q) => q[owner] !== 1),
          'looks without the QEMU on the owner',
        )
        .toEqual([]);
      expect.soft(qemus.at(-1), 'QEMUs once the second start has failed').toEqual(one);
      expect.soft(stayedOn(c.samplesSince(at), owner), 'the engine VM stayed on its host alone').toBe(true);
      expectSafe('second start refused', c.safety(at));
    } finally {
      await c.vdsmClient(other.id, ['VM', 'destroy', `vmID=${c.vmId}`]);
      c.startAgent(other.id);
    }
  }

  function startsOnOneHost(): void {
    it('starts the engine VM on exactly one host', async () => {
      const host = await bed.settled();
      // The bed's sampler probes the engine itself; the agent's view (--vm-status) follows at its broker monitor's
      // next reading, later on a busy machine: waited for, bounded.
      const engineStatus = async () => {
        const s = await bed.c.hostedEngine(host, ['--vm-status', '--json']);
        const status = JSON.parse(s.stdout) as Record<
          string,
          { 'engine-status'?: { vm: string; health: string }; score?: number }
        >;
        return status[String(host)]?.['engine-status'];
      };
      const seen = await waitFor(
        '--vm-status to report the engine VM up and good',
        async () => {
          const e = await engineStatus();
          return e?.vm === 'up' && e.health === 'good' ? e : undefined;
        },
        60_000,
        1000,
      ).catch(async () => engineStatus());
      expect(seen).toMatchObject({ vm: 'up', health: 'good' });
      expect((await bed.c.broker(host)).lockspace).toEqual({ joined: true, error: null });
    }, 150_000);
  }

  // Over the whole run, between scenarios too (set-up, recovery, hosts coming back): no sample ever saw the engine VM
  // on two hosts. The stricter rules (no gap, no unknown stretch over MAX_GAP_MS) are judged inside each fault window,
  // as the failure plan asks; out there a busy machine's slow libvirt answer is counted and printed.
  function neverTwice(): void {
    it('never ran the engine VM on two hosts at once', () => {
      const t = bed.c.totals();
      console.log(
        `${name}: whole run: ${t.samples} samples, unknowns ${JSON.stringify(t.unknownByHost)}, libvirt unknowns settled by /proc ${JSON.stringify(t.byProcByHost)}, running + unknown > 1 in ${t.unproven} (longest run ${t.longestUnprovenMs} ms, ${t.longestUnprovenMs > MAX_GAP_MS ? 'over' : 'within'} ${MAX_GAP_MS} ms)`,
      );
      expect(bed.c.maxRunning()).toBe(1);
    });
  }

  // A failing scenario prints what every agent and libvirtd last did: CI keeps no files.
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && cluster) {
      const leases = await cluster.diagnoseLeases().catch((err: unknown) => `leases: ${String(err)}`);
      console.log(`${name}: after "${task.name}":\n${cluster.diagnose(25)}\n${leases}`);
    }
  }, 60_000);

  beforeAll(async () => {
    cluster = await startCluster({ profile: 'fast' });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    if (table.length) {
      console.log(
        [
          `${name}: scenario | fault → Up (s) | fault → healthy (s) | where`,
          ...table.map((r) => `  ${r.scenario} | ${r.up} | ${r.healthy} | ${r.outcome}`),
        ].join('\n'),
      );
    }
  }, 120_000);

  return bed;
}
