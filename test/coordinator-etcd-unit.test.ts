/**
 * The coordinator's etcd layer on simulated time: leadership's rules (epoch, deadline, guarded transactions, a
 * keepalive that lies) against an in-memory etcd, and the client's pure parts. The same rules against real etcd
 * processes are in test/coordinator-etcd.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CallOptions,
  type Compare,
  EtcdClient,
  type KeyValue,
  type LeaderKey,
  type Lease,
  prefixEnd,
  type TxnOp,
  type TxnOpResult,
  type TxnRequest,
  type TxnResult,
} from '../src/coordinator/etcd/client.js';
import { type Clock, sleep } from '../src/coordinator/etcd/clock.js';
import { EtcdError, NotLeaderError } from '../src/coordinator/etcd/errors.js';
import { type LeaderTerm, Leadership, type LeadershipEtcd } from '../src/coordinator/etcd/leadership.js';

/** Runs every promise continuation that is ready (the fake etcd answers without real I/O). */
async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A monotonic clock that moves only when the test says so, firing due timers in order. */
class FakeClock implements Clock {
  t = 0;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
    await flush();
  }
}

interface Stored {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string;
}

/** An in-memory etcd with what leadership uses; leases end only when the test revokes them. */
class FakeEtcd implements LeadershipEtcd {
  revision = 40; // other writes happened before: epochs are not small integers by accident
  readonly keys = new Map<string, Stored>();
  readonly leases = new Map<string, number>();
  readonly calls: string[] = [];
  /** Every call fails as if no endpoint answered. */
  unreachable = false;
  /** New leases are refused (so that a lost leader cannot simply win again). */
  grantRefused = false;
  /** etcd 3.4.23's bug: a keepalive for a revoked lease is acknowledged with its old TTL. */
  keepAliveLies = false;
  /** The keepalive's answer takes this long on the fake clock. */
  keepAliveDelayMs = 0;
  /** Called when a campaign is about to answer (to revoke the lease at that moment). */
  beforeCampaignAnswers: ((lease: string) => void) | undefined;
  private nextLease = 0x7a00_0000_0001n;
  private readonly revoked = new Map<string, number>();
  private readonly waiting = new Set<() => void>();

  constructor(private readonly clock: FakeClock) {}

  private gate(call: string): void {
    this.calls.push(call);
    if (this.unreachable) throw new EtcdError('unavailable', call, `etcd ${call}: no endpoint answered`);
  }

  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }

  write(key: string, value: string, lease = '0'): void {
    this.revision++;
    const old = this.keys.get(key);
    this.keys.set(key, {
      value,
      lease,
      createRevision: old?.createRevision ?? this.revision,
      modRevision: this.revision,
      version: (old?.version ?? 0) + 1,
    });
  }

  private remove(keys: string[]): number {
    if (keys.length === 0) return 0;
    this.revision++;
    for (const k of keys) this.keys.delete(k);
    for (const w of [...this.waiting]) w();
    return keys.length;
  }

  /** The server side ends a lease (expiry or a stale etcd leader's revoke): its keys go. */
  revoke(id: string): void {
    const ttl = this.leases.get(id);
    if (ttl === undefined) return;
    this.leases.delete(id);
    this.revoked.set(id, ttl);
    this.remove([...this.keys].filter(([, s]) => s.lease === id).map(([k]) => k));
  }

  private kv(key: string, s: Stored): KeyValue {
    return { key, ...s };
  }

  private select(key: string, prefix?: boolean): [string, Stored][] {
    return [...this.keys].filter(([k]) => (prefix ? k.startsWith(key) : k === key));
  }

  async leaseGrant(ttlSeconds: number): Promise<Lease> {
    this.gate('lease/grant');
    if (this.grantRefused) throw new EtcdError('refused', 'lease/grant', 'etcd refused lease/grant: test');
    const id = String(this.nextLease++);
    this.leases.set(id, ttlSeconds);
    return { id, ttl: ttlSeconds };
  }

  async leaseKeepAlive(id: string, options: CallOptions = {}): Promise<Lease> {
    this.gate('lease/keepalive');
    if (this.keepAliveDelayMs > 0) await sleep(this.clock, this.keepAliveDelayMs, options.signal);
    if (options.signal?.aborted) throw new EtcdError('aborted', 'lease/keepalive', 'etcd lease/keepalive was aborted');
    const ttl = this.leases.get(id) ?? (this.keepAliveLies ? this.revoked.get(id) : undefined);
    return { id, ttl: ttl ?? 0 };
  }

  async leaseRevoke(id: string): Promise<void> {
    this.gate('lease/revoke');
    this.revoke(id);
  }

  async campaign(name: string, lease: string, value: string, options: CallOptions = {}): Promise<LeaderKey> {
    this.gate('election/campaign');
    const key = `${name}/${BigInt(lease).toString(16)}`;
    if (!this.keys.has(key)) this.write(key, value, lease);
    const rev = this.keys.get(key)!.createRevision;
    const first = () =>
      this.select(`${name}/`, true).every(([k, s]) => k === key || s.createRevision > rev) || !this.keys.has(key);
    while (!first()) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          this.waiting.delete(wake);
          resolve();
        };
        this.waiting.add(wake);
        options.signal?.addEventListener('abort', () => {
          this.waiting.delete(wake);
          this.remove(this.keys.get(key)?.createRevision === rev ? [key] : []);
          reject(new EtcdError('aborted', 'election/campaign', 'etcd election/campaign was aborted'));
        });
      });
    }
    this.beforeCampaignAnswers?.(lease);
    return { name, key, rev, lease };
  }

  async resign(leader: LeaderKey): Promise<void> {
    this.gate('election/resign');
    if (this.keys.get(leader.key)?.createRevision === leader.rev) this.remove([leader.key]);
  }

  private holds(c: Compare): boolean {
    const s = this.keys.get(c.key);
    const [have, want]: [unknown, unknown] =
      c.target === 'create'
        ? [s?.createRevision ?? 0, c.createRevision]
        : c.target === 'mod'
          ? [s?.modRevision ?? 0, c.modRevision]
          : c.target === 'version'
            ? [s?.version ?? 0, c.version]
            : c.target === 'value'
              ? [s?.value, c.value]
              : [s?.lease ?? '0', c.lease];
    switch (c.result ?? '=') {
      case '=':
        return have === want;
      case '!=':
        return have !== want;
      case '<':
        return (have as number) < (want as number);
      case '>':
        return (have as number) > (want as number);
    }
  }

  private apply(op: TxnOp): TxnOpResult {
    switch (op.op) {
      case 'range': {
        const kvs = this.select(op.key, op.prefix).map(([k, s]) => this.kv(k, s));
        return { op: 'range', kvs, count: kvs.length };
      }
      case 'put':
        this.write(op.key, op.value, op.lease);
        return { op: 'put' };
      case 'delete':
        return { op: 'delete', deleted: this.remove(this.select(op.key, op.prefix).map(([k]) => k)) };
    }
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    this.gate('kv/txn');
    const succeeded = request.compare.every((c) => this.holds(c));
    const responses = (succeeded ? request.success : (request.failure ?? [])).map((op) => this.apply(op));
    return { succeeded, revision: this.revision, responses };
  }
}

const TTL_S = 9; // keepalive every 3 s
const MARGIN_MS = 2000; // deadline = keepalive sent + 7 s
const ELECTION = '/vdsm-ts/coordinator/leader';

interface Bed {
  clock: FakeClock;
  etcd: FakeEtcd;
  leadership: Leadership;
  elected: LeaderTerm[];
  lost: { epoch: number; reason: string }[];
}

let current: Leadership | undefined;
afterEach(async () => {
  const l = current;
  current = undefined;
  if (l) {
    const done = l.stop();
    await done;
  }
});

async function bed(prepare?: (etcd: FakeEtcd) => void): Promise<Bed> {
  const clock = new FakeClock();
  const etcd = new FakeEtcd(clock);
  prepare?.(etcd);
  const elected: LeaderTerm[] = [];
  const lost: { epoch: number; reason: string }[] = [];
  const leadership = new Leadership({
    etcd,
    clock,
    election: ELECTION,
    candidate: 'host-a:1234',
    ttlSeconds: TTL_S,
    marginMs: MARGIN_MS,
    retryMs: 500,
    onElected: (t) => elected.push(t),
    onLost: (t, reason) => lost.push({ epoch: t.epoch, reason }),
  });
  current = leadership;
  leadership.start();
  await clock.advance(0);
  return { clock, etcd, leadership, elected, lost };
}

describe('leadership on simulated time', () => {
  it('wins, reads its own leader key again, and takes its create revision as the epoch', async () => {
    const { etcd, leadership, elected } = await bed((e) => e.write('/other', 'x'));
    expect(leadership.isLeader()).toBe(true);
    const term = leadership.current()!;
    expect(elected).toEqual([term]);
    const stored = etcd.keys.get(term.key)!;
    expect(term.key.startsWith(`${ELECTION}/`)).toBe(true);
    expect(term.epoch).toBe(stored.createRevision);
    expect(term.epoch).toBe(42);
    expect(stored.value).toBe('host-a:1234');
    // After the campaign answered: a keepalive, then the guarded re-read of the own key.
    const after = etcd.calls.slice(etcd.calls.indexOf('election/campaign') + 1);
    expect(after.slice(0, 2)).toEqual(['lease/keepalive', 'kv/txn']);
  });

  it('does not lead when its key is gone by the time the campaign answers, even if keepalives say the lease lives', async () => {
    const { etcd, leadership, lost } = await bed((e) => {
      e.keepAliveLies = true;
      e.beforeCampaignAnswers = (lease) => {
        e.revoke(lease);
        e.grantRefused = true;
      };
    });
    expect(etcd.count('election/campaign')).toBe(1);
    expect(etcd.count('lease/keepalive')).toBe(1); // acknowledged: the lie
    expect(leadership.isLeader()).toBe(false);
    expect(leadership.current()).toBeUndefined();
    expect(lost).toEqual([]); // no term ever began
  });

  it('leads while keepalives every TTL/3 are confirmed: TTL/3 apart on the monotonic clock', async () => {
    const { clock, etcd, leadership } = await bed();
    const epoch = leadership.epoch;
    for (let s = 0; s < 60; s++) {
      await clock.advance(1000);
      expect(leadership.isLeader()).toBe(true);
    }
    expect(leadership.epoch).toBe(epoch);
    // One at election, then at 3 s, 6 s, … 60 s; each one followed by a guarded read.
    expect(etcd.count('lease/keepalive')).toBe(1 + 20);
    expect(etcd.count('kv/txn')).toBe(1 + 20);
  });

  it('ends at the last confirmed keepalive + TTL − margin: isLeader false, the signal fires, guarded sends nothing', async () => {
    const { clock, etcd, leadership, lost } = await bed();
    const term = leadership.current()!;
    const epoch = term.epoch;
    // An in-flight BMC call takes the term's signal.
    const bmcCall = new Promise((_resolve, reject) =>
      term.signal.addEventListener('abort', () => reject(term.signal.reason as Error)),
    ).catch((e: unknown) => e);
    etcd.unreachable = true; // from now on no keepalive is answered
    await clock.advance(TTL_S * 1000 - MARGIN_MS - 1);
    expect(leadership.isLeader()).toBe(true);
    expect(term.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(term.signal.aborted).toBe(true); // the timer fired, nobody had to ask
    expect(await bmcCall).toBeInstanceOf(NotLeaderError);
    expect(leadership.isLeader()).toBe(false);
    expect(lost).toEqual([{ epoch, reason: expect.stringContaining('deadline') }]);
    const txns = etcd.count('kv/txn');
    await expect(leadership.guarded([{ op: 'put', key: '/x', value: '1' }])).rejects.toThrow(/not leader any more/);
    expect(etcd.count('kv/txn')).toBe(txns);
  });

  it('counts the deadline from when a keepalive was sent, not from when its answer arrived', async () => {
    const { clock, etcd, leadership } = await bed();
    etcd.keepAliveDelayMs = 1500;
    await clock.advance(3000); // keepalive sent at 3 s
    await clock.advance(1600); // answered at 4.5 s, confirmed
    etcd.unreachable = true;
    await clock.advance(10_000 - 4600 - 1); // 3 s + TTL − margin = 10 s
    expect(leadership.isLeader()).toBe(true);
    await clock.advance(1);
    expect(leadership.isLeader()).toBe(false);
  });

  it('a keepalive acknowledged after its lease was revoked does not extend leadership past the failing guarded read', async () => {
    const { clock, etcd, leadership, lost } = await bed();
    const term = leadership.current()!;
    etcd.keepAliveLies = true;
    etcd.grantRefused = true; // no new term either
    await clock.advance(1000);
    etcd.revoke(term.lease); // etcd ends the lease early (e.g. a stale etcd leader's revoke)
    await clock.advance(2000); // the keepalive at 3 s is acknowledged with TTL 9 …
    expect(etcd.count('lease/keepalive')).toBe(2);
    // … but the guarded read after it found the key gone: leadership ends at once, 4 s before the deadline.
    expect(leadership.isLeader()).toBe(false);
    expect(term.signal.aborted).toBe(true);
    expect(lost).toEqual([{ epoch: term.epoch, reason: expect.stringContaining('leader key is gone') }]);
    await clock.advance(10_000);
    expect(leadership.isLeader()).toBe(false);
    await expect(leadership.guarded([{ op: 'put', key: '/x', value: '1' }])).rejects.toThrow(NotLeaderError);
    expect(etcd.keys.has('/x')).toBe(false);
  });

  it('a guarded transaction that finds the leader key gone fails with "not leader any more" and ends the term', async () => {
    const { clock, etcd, leadership, lost } = await bed();
    const term = leadership.current()!;
    etcd.keepAliveLies = true;
    etcd.grantRefused = true;
    etcd.revoke(term.lease);
    await clock.advance(500); // before any keepalive: locally the term still looks fine
    expect(leadership.isLeader()).toBe(true);
    const err = await leadership
      .guarded([{ op: 'put', key: '/decision', value: 'fence host-b' }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as Error).message).toMatch(/not leader any more/);
    expect(etcd.keys.has('/decision')).toBe(false);
    expect(leadership.isLeader()).toBe(false);
    expect(term.signal.aborted).toBe(true);
    await clock.advance(3000); // the lying keepalive changes nothing
    expect(leadership.isLeader()).toBe(false);
    expect(lost.map((l) => l.epoch)).toEqual([term.epoch]);
  });

  it('guarded applies ops under the epoch; a failed compare of the caller leaves leadership alone', async () => {
    const { etcd, leadership } = await bed();
    const r = await leadership.guarded([{ op: 'put', key: '/hosts/b/fence', value: 'off' }]);
    expect(r.succeeded).toBe(true);
    expect(etcd.keys.get('/hosts/b/fence')!.value).toBe('off');
    const cas = await leadership.guarded([{ op: 'put', key: '/hosts/b/fence', value: 'on' }], {
      compare: [{ key: '/hosts/b/fence', target: 'value', value: 'nope' }],
      failure: [{ op: 'range', key: '/hosts/b/fence' }],
    });
    expect(cas.succeeded).toBe(false);
    expect(cas.responses).toEqual([{ op: 'range', kvs: [expect.objectContaining({ value: 'off' })], count: 1 }]);
    expect(leadership.isLeader()).toBe(true);
  });

  it('campaigns again after a lost term and leads with a higher epoch', async () => {
    const { clock, etcd, leadership, elected } = await bed();
    const first = leadership.current()!;
    etcd.revoke(first.lease);
    await clock.advance(3000); // keepalive: unknown lease
    await clock.advance(1000); // retry pause, new lease, campaign
    expect(leadership.isLeader()).toBe(true);
    expect(elected.length).toBe(2);
    expect(leadership.epoch!).toBeGreaterThan(first.epoch);
    expect(first.signal.aborted).toBe(true);
  });

  it('stop resigns, revokes its lease and fires the signal', async () => {
    const { etcd, leadership } = await bed();
    const term = leadership.current()!;
    current = undefined;
    await leadership.stop();
    expect(term.signal.aborted).toBe(true);
    expect(leadership.isLeader()).toBe(false);
    expect(etcd.calls).toContain('election/resign');
    expect(etcd.calls).toContain('lease/revoke');
    expect(etcd.keys.has(term.key)).toBe(false);
    expect(etcd.leases.size).toBe(0);
  });

  it('refuses a margin that leaves no room between keepalives', () => {
    const etcd = new FakeEtcd(new FakeClock());
    expect(() => new Leadership({ etcd, election: ELECTION, candidate: 'c', ttlSeconds: 3, marginMs: 2000 })).toThrow(
      /marginMs/,
    );
    expect(() => new Leadership({ etcd, election: ELECTION, candidate: 'c', ttlSeconds: 1 })).toThrow(/ttlSeconds/);
  });
});

describe('client, pure parts', () => {
  it('a prefix range ends at the prefix with its last byte incremented', () => {
    expect(Buffer.from(prefixEnd('/a/'), 'base64').toString()).toBe('/a0');
    expect([...Buffer.from(prefixEnd('a\xff'), 'base64')]).toEqual([0x61, 0xc3, 0xc0]); // UTF-8 of ÿ is c3 bf
  });

  it('refuses an endpoint with credentials without repeating it', () => {
    let message = '';
    try {
      new EtcdClient({ endpoints: ['http://root:s3cret-pw@127.0.0.1:2379'] });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/must not carry credentials/);
    expect(message).not.toContain('s3cret-pw');
  });
});
