/**
 * The coordinator's etcd layer against real etcd processes (Debian's etcd-server, scripts/setup.sh test): the
 * client's calls, the embedded single member, two candidates in processes of their own (the leader frozen with
 * SIGSTOP past its TTL must find itself deposed), and a three-member cluster losing its quorum. Durations are only
 * bounded, generously, by the configured TTL.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRevisionIs, EtcdClient } from '../src/coordinator/etcd/client.js';
import { startEmbeddedEtcd } from '../src/coordinator/etcd/embedded.js';
import { EtcdError, NotLeaderError } from '../src/coordinator/etcd/errors.js';
import { Leadership } from '../src/coordinator/etcd/leadership.js';
import { type WatchEvent, watchPrefix } from '../src/coordinator/etcd/watch.js';
import { CandidateProcess, findEtcd, startTestEtcd, type TestEtcd } from './support/etcd.js';
import { missing } from './support/peers.js';
import { closedPort } from './support/ports.js';
import { pollUntil, sleep, waitFor } from './support/wait.js';

const noEtcd = missing("etcd (Debian's etcd-server)", !findEtcd());
const TTL_S = 5;
const MARGIN_MS = 1500;
const SECRET_LOOKING = 'Pa55w0rd-do-not-print';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(noEtcd)('etcd client against one real member', () => {
  let etcd: TestEtcd;
  let client: EtcdClient;
  beforeAll(async () => {
    etcd = await startTestEtcd(1);
    client = new EtcdClient({ endpoints: etcd.endpoints });
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  it('kv: put, range of a prefix, get, delete of a prefix', async () => {
    const r1 = await client.put('/t/kv/a', '1');
    await client.put('/t/kv/b', 'two');
    await client.put('/t/kvz', 'outside');
    const range = await client.range({ key: '/t/kv/', prefix: true });
    expect(range.kvs.map((kv) => [kv.key, kv.value])).toEqual([
      ['/t/kv/a', '1'],
      ['/t/kv/b', 'two'],
    ]);
    expect(range.count).toBe(2);
    expect(range.kvs[0]!.createRevision).toBe(r1);
    expect(range.revision).toBeGreaterThan(r1);
    expect(await client.get('/t/kv/none')).toBeUndefined();
    expect(await client.delete('/t/kv/', { prefix: true })).toBe(2);
    expect((await client.range({ key: '/t/kv/', prefix: true })).kvs).toEqual([]);
    expect((await client.get('/t/kvz'))!.value).toBe('outside');
  });

  it('txn: a compare on the create revision picks the branch; a recreated key no longer matches', async () => {
    await client.put('/t/txn/leader', 'x');
    const rev = (await client.get('/t/txn/leader'))!.createRevision;
    const ok = await client.txn({
      compare: [createRevisionIs('/t/txn/leader', rev)],
      success: [
        { op: 'put', key: '/t/txn/state', value: 'fenced' },
        { op: 'range', key: '/t/txn/state' },
      ],
      failure: [{ op: 'range', key: '/t/txn/leader' }],
    });
    expect(ok.succeeded).toBe(true);
    expect(ok.responses).toEqual([
      { op: 'put' },
      { op: 'range', kvs: [expect.objectContaining({ value: 'fenced' })], count: 1 },
    ]);
    await client.delete('/t/txn/leader');
    await client.put('/t/txn/leader', 'x'); // same value, new create revision
    const stale = await client.txn({
      compare: [createRevisionIs('/t/txn/leader', rev)],
      success: [{ op: 'put', key: '/t/txn/state', value: 'stale' }],
      failure: [{ op: 'range', key: '/t/txn/leader' }],
    });
    expect(stale.succeeded).toBe(false);
    expect(stale.responses[0]).toMatchObject({ op: 'range', kvs: [{ key: '/t/txn/leader' }] });
    expect((await client.get('/t/txn/state'))!.value).toBe('fenced');
  });

  it('leases: grant, keepalive, timeToLive, and revoke deletes the keys bound to the lease', async () => {
    const lease = await client.leaseGrant(5);
    expect(lease.ttl).toBe(5);
    expect(lease.id).toMatch(/^\d+$/);
    await client.put('/t/lease/k', 'v', { lease: lease.id });
    const ttl = await client.leaseTimeToLive(lease.id, { keys: true });
    expect(ttl.grantedTtl).toBe(5);
    expect(ttl.ttl).toBeGreaterThan(0);
    expect(ttl.keys).toEqual(['/t/lease/k']);
    expect(await client.leaseKeepAlive(lease.id)).toEqual({ id: lease.id, ttl: 5 });
    expect((await client.get('/t/lease/k'))!.lease).toBe(lease.id);
    await client.leaseRevoke(lease.id);
    expect(await client.get('/t/lease/k')).toBeUndefined();
    expect((await client.leaseKeepAlive(lease.id)).ttl).toBe(0);
    expect((await client.leaseTimeToLive(lease.id)).ttl).toBe(-1);
  });

  it('election: campaign answers the create revision of the leader key; leader, resign', async () => {
    const name = '/t/election-basic';
    expect(await client.leader(name)).toBeUndefined();
    const lease = await client.leaseGrant(10);
    const leader = await client.campaign(name, lease.id, 'host-a');
    expect(leader.key).toBe(`${name}/${BigInt(lease.id).toString(16)}`);
    expect(leader.lease).toBe(lease.id);
    expect((await client.get(leader.key))!.createRevision).toBe(leader.rev);
    expect(await client.leader(name)).toMatchObject({ key: leader.key, value: 'host-a', createRevision: leader.rev });
    await client.resign(leader);
    expect(await client.leader(name)).toBeUndefined();
    await client.leaseRevoke(lease.id);
  });

  it('observe: the leader each time it changes', async () => {
    const name = '/t/election-observe';
    const first = await client.leaseGrant(10);
    await client.campaign(name, first.id, 'one');
    const stop = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const kv of client.observe(name, { signal: stop.signal })) seen.push(kv.value);
    })();
    await waitFor('the first leader observed', () => seen.length >= 1, 10_000, 50);
    const second = await client.leaseGrant(10);
    const campaign = client.campaign(name, second.id, 'two');
    await client.leaseRevoke(first.id);
    await campaign;
    await waitFor('the second leader observed', () => seen.length >= 2, 10_000, 50);
    stop.abort();
    await done;
    expect(seen).toEqual(['one', 'two']);
    await client.leaseRevoke(second.id);
  });

  it('a campaign blocked behind another leader ends at its timeout or its AbortSignal', async () => {
    const name = '/t/election-blocked';
    const first = await client.leaseGrant(10);
    await client.campaign(name, first.id, 'first');
    const second = await client.leaseGrant(10);
    const timedOut = await client.campaign(name, second.id, 'second', { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(EtcdError);
    expect((timedOut as EtcdError).kind).toBe('timeout');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const aborted = await client
      .campaign(name, second.id, 'second', { signal: controller.signal })
      .catch((e: unknown) => e);
    expect((aborted as EtcdError).kind).toBe('aborted');
    expect((await client.leader(name))!.value).toBe('first');
    await client.leaseRevoke(first.id);
    await client.leaseRevoke(second.id);
  });

  it('moves to the next endpoint when one refuses connections; errors name the call, never the value', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const both = new EtcdClient({ endpoints: [dead, ...etcd.endpoints] });
    await both.put('/t/failover', SECRET_LOOKING);
    expect((await both.get('/t/failover'))!.value).toBe(SECRET_LOOKING);

    const none = new EtcdClient({ endpoints: [dead] });
    const unreachable = (await none.put('/t/secret', SECRET_LOOKING).catch((e: unknown) => e)) as EtcdError;
    expect(unreachable).toBeInstanceOf(EtcdError);
    expect(unreachable.kind).toBe('unavailable');
    expect(unreachable.message).toMatch(/kv\/put.*ECONNREFUSED/);
    // etcd's own refusal (a lease that does not exist) is reported with etcd's reason.
    const refused = (await client
      .put('/t/secret', SECRET_LOOKING, { lease: '12345' })
      .catch((e: unknown) => e)) as EtcdError;
    expect(refused.kind).toBe('refused');
    expect(refused.message).toMatch(/lease not found/);
    for (const e of [unreachable, refused]) {
      expect(e.message).not.toContain(SECRET_LOOKING);
      expect(e.message).not.toContain(Buffer.from(SECRET_LOOKING).toString('base64'));
      expect(String(e.stack)).not.toContain(SECRET_LOOKING);
    }
  });

  it('watch: every change under a prefix once, in order, across a cut stream', async () => {
    let cut: AbortController | undefined;
    // A fetch whose current response the test can cut, as a network failure would.
    const cuttable: typeof fetch = (input, init) => {
      cut = new AbortController();
      const signals = [cut.signal, ...(init?.signal ? [init.signal] : [])];
      return fetch(input, { ...init, signal: AbortSignal.any(signals) });
    };
    const watcher = new EtcdClient({ endpoints: etcd.endpoints, fetch: cuttable });
    const start = (await client.put('/t/watch/0', 'before')) + 1;
    const seen: WatchEvent[] = [];
    const stop = new AbortController();
    const done = watchPrefix(watcher, {
      prefix: '/t/watch/',
      startRevision: start,
      signal: stop.signal,
      retryMs: 300,
      onEvents: (events) => seen.push(...events),
    });
    await client.put('/t/watch/a', '1');
    await client.put('/t/watch-outside', 'x');
    await client.put('/t/watch/b', '2');
    await waitFor('two events', () => seen.length >= 2, 10_000, 50);
    cut!.abort(); // the stream breaks; the watch reconnects from the revision after /t/watch/b
    await client.delete('/t/watch/a');
    await client.put('/t/watch/c', '3');
    await waitFor('four events', () => seen.length >= 4, 10_000, 50);
    await sleep(500); // nothing repeated after the reconnect
    stop.abort();
    await done;
    expect(seen.map((e) => [e.type, e.kv.key, e.kv.value])).toEqual([
      ['put', '/t/watch/a', '1'],
      ['put', '/t/watch/b', '2'],
      ['delete', '/t/watch/a', ''],
      ['put', '/t/watch/c', '3'],
    ]);
    expect(seen[2]!.prevKv?.value).toBe('1');
  });
});

describe.skipIf(noEtcd)('embedded etcd', () => {
  it('starts one member on loopback with a data directory, stops it by pid, and keeps its data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vdsm-ts-embedded-'));
    try {
      const first = await startEmbeddedEtcd({ dataDir: dir });
      expect(first.endpoints).toEqual([expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/)]);
      expect(alive(first.pid)).toBe(true);
      await new EtcdClient({ endpoints: first.endpoints }).put('/t/embedded', 'kept');
      await first.close();
      expect(alive(first.pid)).toBe(false);
      expect(existsSync(join(dir, 'etcd', 'member'))).toBe(true);
      const again = await startEmbeddedEtcd({ dataDir: dir });
      try {
        expect(again.endpoints).toEqual(first.endpoints);
        expect((await new EtcdClient({ endpoints: again.endpoints }).get('/t/embedded'))!.value).toBe('kept');
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what to install when etcd is not on PATH', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vdsm-ts-embedded-'));
    try {
      await expect(startEmbeddedEtcd({ dataDir: dir, searchPath: join(dir, 'bin') })).rejects.toThrow(
        /etcd is not installed.*etcd-server/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(noEtcd)('two candidates, each in its own process', () => {
  let etcd: TestEtcd;
  const candidates: CandidateProcess[] = [];
  beforeAll(async () => {
    etcd = await startTestEtcd(1);
  });
  afterAll(async () => {
    await Promise.all(candidates.map((c) => c.stop()));
    await etcd?.stop();
  });

  it('exactly one leads; frozen past its TTL, it is replaced, and once thawed it neither leads nor writes', async () => {
    const election = '/t/coordinator/leader';
    const config = (candidate: string) => ({
      endpoints: etcd.endpoints,
      election,
      candidate,
      ttlSeconds: TTL_S,
      marginMs: MARGIN_MS,
    });
    candidates.push(CandidateProcess.start(config('cand-a')), CandidateProcess.start(config('cand-b')));
    const first = await waitFor('a leader', () => candidates.find((c) => c.elected()), 30_000, 100);
    const other = candidates.find((c) => c !== first)!;
    await sleep(TTL_S * 1000); // both well into their campaigns
    const statuses = await Promise.all(candidates.map((c) => c.status()));
    expect(statuses.filter((s) => s.leader)).toHaveLength(1);
    expect(await first.status()).toEqual({ leader: true, epoch: first.elected()!.epoch });
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    expect((await client.leader(election))!.key).toBe(first.elected()!.key);
    expect(await first.command({ cmd: 'guarded', key: '/t/decided-by-first', value: 'before' })).toEqual({ ok: true });

    // The leader's whole process stops: no keepalive, no timer, for longer than the TTL.
    first.freeze();
    const second = await waitFor('the other candidate to lead', () => other.elected(), TTL_S * 1000 + 15_000, 100);
    expect(second.epoch).toBeGreaterThan(first.elected()!.epoch);
    // Asked while it is still frozen, the question waits in its pipe and is the first thing it reads once it runs
    // again, before etcd can answer its overdue keepalive: only its own monotonic clock can tell it.
    const statusOnWaking = first.status();
    first.thaw();
    expect(await statusOnWaking).toEqual({ leader: false, epoch: null });
    const guarded = await first.command({ cmd: 'guarded', key: '/t/decided-by-first', value: 'after' });
    expect(guarded).toMatchObject({ name: 'NotLeaderError', error: expect.stringMatching(/not leader/) });
    // Straight to etcd with its old epoch, whatever its clock says: the guard refuses.
    expect(await first.command({ cmd: 'raw-guarded', key: '/t/decided-by-first', value: 'raw' })).toEqual({
      succeeded: false,
    });
    expect((await client.get('/t/decided-by-first'))!.value).toBe('before');
    // Its term's signal fired (in-flight BMC, SSH and VM calls end).
    await waitFor('the old term aborted', () => first.events.some((e) => e.event === 'aborted'), 5000, 50);
    expect(await other.command({ cmd: 'guarded', key: '/t/decided-by-second', value: 'yes' })).toEqual({ ok: true });
    expect(await other.status()).toEqual({ leader: true, epoch: second.epoch });
  }, 90_000);
});

describe.skipIf(noEtcd)('three members losing quorum', () => {
  let etcd: TestEtcd;
  const leaderships: Leadership[] = [];
  beforeAll(async () => {
    etcd = await startTestEtcd(3);
  });
  afterAll(async () => {
    for (const m of etcd?.members ?? []) m.thaw();
    await Promise.all(leaderships.map((l) => l.stop()));
    await etcd?.stop();
  });

  it('the leader stops leading by its deadline and no other candidate can lead', async () => {
    const reasons: string[] = [];
    const make = (candidate: string, endpoints: string[]) => {
      const l = new Leadership({
        onLost: (_term, reason) => reasons.push(`${candidate}: ${reason}`),
        etcd: new EtcdClient({ endpoints, timeoutMs: 1500 }),
        election: '/t/quorum/leader',
        candidate,
        ttlSeconds: TTL_S,
        marginMs: MARGIN_MS,
        retryMs: 300,
        campaignTimeoutMs: 5000,
      });
      leaderships.push(l);
      l.start();
      return l;
    };
    const a = make('quorum-a', etcd.endpoints);
    const term = await a.whenLeader(AbortSignal.timeout(20_000));
    await a.guarded([{ op: 'put', key: '/t/quorum/state', value: 'ok' }]);

    // Two of three members stop (frozen: their sockets hang rather than refuse).
    etcd.members[1]!.freeze();
    etcd.members[2]!.freeze();
    const deposed = await pollUntil(() => term.signal.aborted && !a.isLeader(), TTL_S * 1000 + 5000, 100);
    expect(deposed).toBe(true);
    // Ended by its deadline (TTL − margin after the last confirmed keepalive), before the lease could expire.
    expect(reasons).toEqual([expect.stringMatching(/^quorum-a: the leadership deadline passed/)]);
    await expect(a.guarded([{ op: 'put', key: '/t/quorum/state', value: 'late' }])).rejects.toThrow(NotLeaderError);

    const b = make('quorum-b', [etcd.members[0]!.clientUrl]);
    const anyoneLed = await pollUntil(() => a.isLeader() || b.isLeader(), 2 * TTL_S * 1000, 100);
    expect(anyoneLed).toBe(false);
    // The old epoch's guard cannot be applied either: without quorum etcd commits nothing (the write's outcome is
    // unknown, not refused: etcd may still apply it later, and then only if the guard holds at that time).
    const raw = new EtcdClient({ endpoints: [etcd.members[0]!.clientUrl], timeoutMs: 2000 });
    await expect(
      raw.txn({
        compare: [createRevisionIs(term.key, term.epoch)],
        success: [{ op: 'put', key: '/t/quorum/raw', value: 'raw' }],
      }),
    ).rejects.toThrow(EtcdError);

    // Quorum back: somebody leads again, with a new epoch.
    etcd.members[1]!.thaw();
    etcd.members[2]!.thaw();
    const back = await pollUntil(() => a.isLeader() || b.isLeader(), 30_000, 100);
    expect(back).toBe(true);
    const epoch = a.epoch ?? b.epoch;
    expect(epoch).toBeGreaterThan(term.epoch);
    expect((await raw.get('/t/quorum/state'))!.value).toBe('ok'); // 'late' was never sent
  }, 90_000);
});
