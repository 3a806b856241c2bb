/**
 * Leadership against real peers on loopback (test/coordinator-bed/): two `vdsm-ts-coordinator serve` replicas on
 * etcd. A leader frozen (SIGSTOP) after it sent `off` and before OFF was confirmed, for longer than its lease: the
 * other replica finishes the fence and the restarts, and the old leader, resumed, changes nothing. etcd gone (every
 * member killed): nobody leads and nothing is done to a host that hangs meanwhile; etcd back: the flow goes on.
 * Timings: FAST_POLICY (test/coordinator-bed/policy.ts), lease TTL 5 s, tick 500 ms; the frozen-leader scenario polls
 * the power status every 2 s after `off`, which leaves a window of about 2 s to freeze the leader in.
 */
import { describe, expect, it } from 'vitest';
import { withBed } from './coordinator-bed/bed.js';
import { logLinesMatching, rpcCalls, total, whereSeen } from './coordinator-bed/evidence.js';
import { expectRecovered, plan, transitions, untilFencedAndRestarted } from './coordinator-bed/fencing-scenarios.js';
import { FAST_POLICY } from './coordinator-bed/policy.js';
import { populate } from './coordinator-bed/populate.js';
import type { Replica } from './coordinator-bed/replica.js';
import { fenceTimeline, printTimeline } from './coordinator-bed/timeline.js';
import { sleep } from './support/wait.js';

describe('a leader frozen mid-fence for longer than its lease', () => {
  it('is replaced: the other replica confirms OFF and starts each HA VM once; the old one, resumed, does nothing', async () => {
    const ttl = 5;
    const policy = { ...FAST_POLICY, statusPollInterval: 2 };
    await withBed({ hosts: 3, replicas: 2, ttlSeconds: ttl, policy }, async (bed) => {
      const vms = await populate(bed, plan());
      const old = await bed.leader();
      const oldEpoch = (await old.health())!.epoch!;
      const other = bed.replicas.find((r) => r !== old)!;
      const t0 = Date.now();
      bed.host('host1').freeze();

      // the trigger: the BMC carried out the leader's `off`; freeze the leader at once (polled every 20 ms)
      await bed.until(
        'the BMC of host1 to carry out a power off',
        () => bed.bmc('host1').transitions().includes('power 0'),
        120_000,
        20,
      );
      old.freeze();
      const tFrozen = Date.now();
      const confirmedBefore = logLinesMatching(bed, /host1 \w+ -> PowerOffConfirmed/, t0).filter((l) =>
        l.startsWith(old.name),
      );
      expect(confirmedBefore, 'the leader was frozen after `off` and before OFF was confirmed').toEqual([]);

      const ha = vms.host1!.filter((v) => v.ha);
      await bed.until(`${other.name} to lead`, async () => (await other.health())?.role === 'leader', 60_000);
      await bed.until(
        'the HA VMs of host1 Up on another host',
        () => ha.every((v) => bed.sampler.firstUp(v.id, t0, ['host1'])),
        120_000,
      );
      expect(Date.now() - tFrozen, 'the leader stayed frozen longer than its lease').toBeGreaterThan(ttl * 1000);
      // The sampler can see a VM Up before that host's vdsmd log line of its VM.create reached us (vdsmd flushes its
      // log in batches): wait for the lines, so that "before" counts every create made before the resume.
      await bed.until(
        "every VM.create in the hosts' logs",
        () => total(rpcCalls(bed, 'VM.create', t0)) >= ha.length,
        10_000,
        100,
      );
      const tThaw = Date.now();
      const before = { transitions: transitions(bed), creates: rpcCalls(bed, 'VM.create', t0) };
      old.thaw();
      await bed.until(
        `${old.name} to follow after its resume`,
        async () => (await old.health())?.role === 'follower',
        30_000,
      );
      await sleep(8000); // what it would still do, it does within a few ticks

      printTimeline('leader frozen mid-fence', t0, {
        ...(await fenceTimeline(
          bed,
          'host1',
          t0,
          ha.map((v) => v.id),
        )),
        'leader frozen': { what: 'bed', at: tFrozen, where: old.name },
        'leader resumed': { what: 'bed', at: tThaw, where: old.name },
      });
      const afterResume = logLinesMatching(bed, /guard|stale|not leader|lost|epoch|abort/i, tThaw).filter((l) =>
        l.startsWith(old.name),
      );
      console.log(`${old.name} after its resume:\n${afterResume.join('\n')}`);
      expect(afterResume.length, `${old.name} logs that its leadership ended`).toBeGreaterThan(0);
      // the audit trail says so: its term's end and etcd refusing a transaction under its epoch
      const stepped = await bed.until(
        `the audit trail to tell that ${old.name} stepped down`,
        async () => (await other.events()).find((e) => e.kind === 'leadership'),
        30_000,
      );
      console.log(`audit: ${stepped.text}`);
      expect(stepped.text).toContain(`${old.name} stepped down from epoch ${oldEpoch}`);
      expect(stepped.text).toContain(`etcd refused a transaction guarded by epoch ${oldEpoch}`);
      expect(stepped.text).toMatch(new RegExp(`etcd named ${other.name} \\(epoch \\d+\\) as leader`));

      // the old leader did nothing after its resume: no power action, no VM started
      expect(transitions(bed)).toEqual(before.transitions);
      expect(rpcCalls(bed, 'VM.create', t0)).toEqual(before.creates);
      expect(bed.bmc('host1').transitions()).toEqual(['power 0']);
      // each HA VM started once, on one host; the non-HA VM nowhere else
      await expectRecovered(bed, vms, t0);
      const newLeaderConfirmed = logLinesMatching(bed, /host1 \w+ -> PowerOffConfirmed/, t0);
      expect(
        newLeaderConfirmed.every((l) => l.startsWith(other.name)),
        newLeaderConfirmed.join('\n'),
      ).toBe(true);
    });
  }, 360_000);
});

describe('etcd unreachable (every member killed)', () => {
  it('leaves no leader and no action while a host hangs; when etcd is back the flow goes on', async () => {
    await withBed({ hosts: 3, replicas: 2, etcdMembers: 3, policy: FAST_POLICY }, async (bed) => {
      const vms = await populate(bed, plan());
      const t0 = Date.now();
      await bed.etcd!.killAll();
      bed.host('host1').freeze();

      const leaders = async (rs: Replica[]) =>
        (await Promise.all(rs.map(async (r) => (await r.health())?.role))).filter((x) => x === 'leader').length;
      await bed.until('no replica to lead', async () => (await leaders(bed.replicas)) === 0, 30_000);
      const tNoLeader = Date.now();
      // three times what detection and a fence take with a leader
      await sleep(30_000);
      expect(await leaders(bed.replicas)).toBe(0);
      expect(transitions(bed)).toEqual({ host1: [], host2: [], host3: [] });
      expect(bed.desk.served).toEqual([]);
      expect(total(rpcCalls(bed, 'VM.create', t0))).toBe(0);
      expect(total(rpcCalls(bed, 'Host.fenceNode', t0))).toBe(0);
      const seen = whereSeen(bed, Object.values(vms).flat(), t0);
      expect(seen).toMatchObject({
        'h2-ha': ['host2'],
        'h3-plain': ['host3'],
        'h1-ha-a': [],
        'h1-ha-b': [],
        'h1-plain': [],
      });

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
      expect(total(rpcCalls(bed, 'VM.create', t0))).toBe(ha.length);
      expect(bed.bmc('host1').transitions()).toEqual(['power 0']);
    });
  }, 420_000);
});
