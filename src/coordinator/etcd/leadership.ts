/**
 * Leadership of the coordinator through an etcd election, made safe against a stale leader (src/coordinator/etcd/README.md).
 *
 * - A replica campaigns in a loop with a lease of `ttlSeconds`; on winning it reads its own leader key again (a
 *   campaign can answer after the key is gone) and its create revision becomes the **epoch**.
 * - It keeps the lease alive every TTL/3 on the monotonic clock. While it leads, a keepalive counts only once a
 *   guarded read confirms it (etcd 3.4.23 can acknowledge a keepalive for a revoked lease): leadership lasts until
 *   **the send time of the last confirmed keepalive + TTL − margin** (the send time, not the answer's arrival: etcd
 *   renewed the lease at some moment in between, so the lease lives at least that long).
 * - Past that deadline `isLeader()` is false and the term's AbortSignal fires, and so it does when a guarded
 *   transaction finds the leader key gone or recreated, when the lease is lost, or on `stop()`. A term never
 *   comes back: the replica revokes its lease and campaigns again, for a new epoch.
 * - `guarded(ops)` is an etcd transaction whose first compare is `create_revision(leader key) == epoch`: etcd applies
 *   it only while this term's key exists, whatever the local clock believes.
 *
 * The clock and the etcd client are injected, so that the logic runs on simulated time in tests.
 */
import type { Logger } from 'pino';
import {
  type CallOptions,
  type Compare,
  createRevisionIs,
  type EtcdClient,
  type LeaderKey,
  type Lease,
  type TxnOp,
  type TxnResult,
} from './client.js';
import { type Clock, monotonicClock, sleep } from './clock.js';
import { EtcdError, NotLeaderError } from './errors.js';

/** The part of the client that leadership uses (a fake in unit tests). */
export type LeadershipEtcd = Pick<
  EtcdClient,
  'leaseGrant' | 'leaseKeepAlive' | 'leaseRevoke' | 'campaign' | 'resign' | 'txn'
>;

export interface LeadershipOptions {
  etcd: LeadershipEtcd;
  /** The election's name (a key prefix), e.g. `/vdsm-ts/coordinator/leader`. */
  election: string;
  /** What this replica writes in its leader key: who it is (host and pid), never a secret. */
  candidate: string;
  /** The lease's TTL in seconds (default 10; etcd's minimum is 2). */
  ttlSeconds?: number;
  /** How long before the lease could expire leadership ends (default 2000 ms, less than 2/3 of the TTL). */
  marginMs?: number;
  /** Bound of one campaign request; a follower then asks again (default 30 s). */
  campaignTimeoutMs?: number;
  /** Bound of every other call (default TTL/3). */
  callTimeoutMs?: number;
  /** Pause after a failed attempt or a lost term, and between keepalives that fail (default 1000 ms). */
  retryMs?: number;
  clock?: Clock;
  log?: Logger;
  /** Called when a term begins. */
  onElected?: (term: LeaderTerm) => void;
  /** Called once when a term ends, with why. */
  onLost?: (term: LeaderTerm, reason: string) => void;
}

/** One continuous leadership: one epoch, one AbortSignal. */
export interface LeaderTerm {
  /** The create revision of the leader key: a fencing token that only grows from term to term. */
  readonly epoch: number;
  /** This replica's leader key. */
  readonly key: string;
  readonly lease: string;
  /** Fires when the term ends; its reason is a NotLeaderError. Pass it to every BMC, SSH and VM call. */
  readonly signal: AbortSignal;
  /** Monotonic ms (the leadership's clock) after which the term no longer counts. */
  readonly deadline: number;
}

export interface GuardedOptions extends CallOptions {
  /** More conditions, checked together with the leader guard. */
  compare?: Compare[];
  /** Ops to run when a condition fails (the leader guard held but one of `compare` did not). */
  failure?: TxnOp[];
}

const KEY_GONE = 'the leader key is gone or was recreated (another replica may lead)';
const DEADLINE = 'the leadership deadline passed (no confirmed keepalive within TTL - margin)';
const LEASE_LOST = 'etcd no longer knows the lease';
/** The reason a term ends with on `stop()`. */
export const TERM_STOPPED = 'stopped';
const STOPPED = TERM_STOPPED;

class Term implements LeaderTerm {
  readonly controller = new AbortController();
  ended: string | undefined;
  cancelTimer: () => void = () => {};

  constructor(
    readonly epoch: number,
    readonly key: string,
    readonly lease: string,
    readonly leader: LeaderKey,
    public deadline: number,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }
}

/** One lease, from its grant until it is revoked or lost. */
interface LeaseLife {
  id: string;
  ttlMs: number;
  /** The local bound of the lease's life: send time of the last acknowledged keepalive + TTL. */
  validUntil: number;
  failing: boolean;
  controller: AbortController;
}

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Leadership {
  private readonly etcd: LeadershipEtcd;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly ttlSeconds: number;
  private readonly marginMs: number;
  private readonly intervalMs: number;
  private readonly callTimeoutMs: number;
  private readonly campaignTimeoutMs: number;
  private readonly retryMs: number;
  private readonly stopController = new AbortController();
  private term: Term | undefined;
  private lastLoss: string | undefined;
  private running: Promise<void> | undefined;
  private readonly waiters = new Set<(term: LeaderTerm) => void>();

  constructor(private readonly options: LeadershipOptions) {
    this.etcd = options.etcd;
    this.clock = options.clock ?? monotonicClock;
    this.log = options.log;
    this.ttlSeconds = options.ttlSeconds ?? 10;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 2)
      throw new Error('leadership: ttlSeconds must be a whole number of seconds, at least 2 (etcd’s minimum)');
    const ttlMs = this.ttlSeconds * 1000;
    this.marginMs = options.marginMs ?? 2000;
    if (!(this.marginMs >= 0 && this.marginMs < (ttlMs * 2) / 3))
      throw new Error('leadership: marginMs must be at least 0 and less than 2/3 of the TTL');
    this.intervalMs = ttlMs / 3;
    this.callTimeoutMs = options.callTimeoutMs ?? this.intervalMs;
    this.campaignTimeoutMs = options.campaignTimeoutMs ?? 30_000;
    this.retryMs = options.retryMs ?? 1000;
  }

  /** Starts campaigning (once; again after stop() is not supported). */
  start(): void {
    if (this.running || this.stopController.signal.aborted) return;
    this.running = this.run();
  }

  /** Ends the term if any (its signal fires), resigns, revokes the lease; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopController.abort();
    if (this.term) this.endTerm(this.term, STOPPED);
    await this.running;
  }

  /** True only within a term and before its deadline (checked on the monotonic clock at each call). */
  isLeader(): boolean {
    const t = this.term;
    if (!t) return false;
    if (this.clock.now() >= t.deadline) {
      this.endTerm(t, DEADLINE);
      return false;
    }
    return true;
  }

  /** The current term while this replica leads. */
  current(): LeaderTerm | undefined {
    return this.isLeader() ? this.term : undefined;
  }

  get epoch(): number | undefined {
    return this.current()?.epoch;
  }

  /** The current term's signal; an already aborted one when not leading. */
  get signal(): AbortSignal {
    return this.current()?.signal ?? AbortSignal.abort(new NotLeaderError(this.notLeader()));
  }

  /** Resolves with the next term (at once if leading); rejects when `signal` fires or leadership stops. */
  whenLeader(signal?: AbortSignal): Promise<LeaderTerm> {
    const now = this.current();
    if (now) return Promise.resolve(now);
    return new Promise<LeaderTerm>((resolve, reject) => {
      const stop = this.stopController.signal;
      const cleanup = () => {
        this.waiters.delete(elected);
        signal?.removeEventListener('abort', cancelled);
        stop.removeEventListener('abort', cancelled);
      };
      const elected = (term: LeaderTerm) => {
        cleanup();
        resolve(term);
      };
      const cancelled = () => {
        cleanup();
        reject(new NotLeaderError(stop.aborted ? 'leadership stopped' : 'no longer waiting for leadership'));
      };
      if (signal?.aborted || stop.aborted) return cancelled();
      this.waiters.add(elected);
      signal?.addEventListener('abort', cancelled, { once: true });
      stop.addEventListener('abort', cancelled, { once: true });
    });
  }

  /**
   * Runs `ops` in one etcd transaction guarded by `create_revision(leader key) == epoch` (and `options.compare`).
   * Throws NotLeaderError without sending anything when not leading, and when etcd finds the guard false ("not
   * leader any more"): the term then ends. When only `options.compare` failed, answers `succeeded: false` with
   * the results of `options.failure`. The call is aborted when the term ends.
   */
  async guarded(ops: TxnOp[], options: GuardedOptions = {}): Promise<TxnResult> {
    const term = this.term;
    if (!term || !this.isLeader()) throw new NotLeaderError(this.notLeader());
    const linked = linkSignals(term.signal, options.signal);
    let r: TxnResult;
    try {
      r = await this.etcd.txn(
        {
          compare: [createRevisionIs(term.key, term.epoch), ...(options.compare ?? [])],
          success: ops,
          failure: [{ op: 'range', key: term.key }, ...(options.failure ?? [])],
        },
        { signal: linked.signal, timeoutMs: options.timeoutMs ?? this.callTimeoutMs },
      );
    } catch (err) {
      if (term.signal.aborted)
        throw new NotLeaderError(
          `not leader any more: ${term.ended ?? STOPPED}; the transaction's outcome is unknown`,
          true,
        );
      throw err;
    } finally {
      linked.done();
    }
    if (r.succeeded) return r;
    const own = r.responses[0];
    const kv = own?.op === 'range' ? own.kvs[0] : undefined;
    if (kv && kv.createRevision === term.epoch && kv.lease === term.lease)
      return { ...r, responses: r.responses.slice(1) };
    this.endTerm(term, KEY_GONE);
    throw new NotLeaderError(`not leader any more: ${KEY_GONE}`);
  }

  private notLeader(): string {
    return this.lastLoss ? `not leader any more: ${this.lastLoss}` : 'not leader';
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    while (!stop.aborted) {
      try {
        await this.oneLease(stop);
      } catch (err) {
        if (!stop.aborted) this.log?.warn({ err: describe(err) }, 'etcd leadership: attempt failed, trying again');
      }
      if (!stop.aborted) await sleep(this.clock, this.retryMs, stop);
    }
  }

  /** One lease: grant, keep alive, campaign, lead until the term ends; then resign and revoke. */
  private async oneLease(stop: AbortSignal): Promise<void> {
    const sentAt = this.clock.now();
    const granted = await this.etcd.leaseGrant(this.ttlSeconds, { signal: stop, timeoutMs: this.callTimeoutMs });
    const ttlMs = Math.min(this.ttlSeconds, granted.ttl) * 1000;
    const life: LeaseLife = {
      id: granted.id,
      ttlMs,
      validUntil: sentAt + ttlMs,
      failing: false,
      controller: new AbortController(),
    };
    const onStop = () => life.controller.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const keeper = this.keepAlive(life);
    let leader: LeaderKey | undefined;
    try {
      leader = await this.campaign(life);
      if (!leader) return;
      const term = await this.takeOffice(life, leader);
      await new Promise<void>((resolve) => {
        if (term.signal.aborted) resolve();
        else term.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      const t = this.term;
      if (t && t.lease === life.id) this.endTerm(t, stop.aborted ? STOPPED : LEASE_LOST);
      life.controller.abort();
      stop.removeEventListener('abort', onStop);
      await keeper;
      await this.release(life, leader);
    }
  }

  /** Campaigns until elected; undefined when the lease ended first. */
  private async campaign(life: LeaseLife): Promise<LeaderKey | undefined> {
    const signal = life.controller.signal;
    while (!signal.aborted) {
      try {
        const leader = await this.etcd.campaign(this.options.election, life.id, this.options.candidate, {
          signal,
          timeoutMs: this.campaignTimeoutMs,
        });
        if (leader.lease !== life.id) throw new Error('etcd answered the campaign with another lease');
        return leader;
      } catch (err) {
        if (signal.aborted) return undefined;
        // Another replica leads: etcd withdrew our key when the request was cut; ask again.
        if (err instanceof EtcdError && err.kind === 'timeout') continue;
        throw err;
      }
    }
    return undefined;
  }

  /**
   * Elected: a keepalive, then the own leader key read again under its guard (the campaign may have answered after
   * the key was gone); only then does the term begin, its deadline counted from that keepalive's send time.
   */
  private async takeOffice(life: LeaseLife, leader: LeaderKey): Promise<Term> {
    const signal = life.controller.signal;
    const sentAt = this.clock.now();
    const ack = await this.etcd.leaseKeepAlive(life.id, { signal, timeoutMs: this.callTimeoutMs });
    if (ack.ttl <= 0) throw new Error('elected, but etcd no longer knows the lease');
    const check = await this.etcd.txn(
      { compare: [createRevisionIs(leader.key, leader.rev)], success: [{ op: 'range', key: leader.key }] },
      { signal, timeoutMs: this.callTimeoutMs },
    );
    const own = check.responses[0];
    const kv = check.succeeded && own?.op === 'range' ? own.kvs[0] : undefined;
    if (!kv || kv.lease !== life.id)
      throw new Error('elected, but the leader key was gone or not ours when read again');
    const ttlMs = Math.min(life.ttlMs, ack.ttl * 1000);
    life.validUntil = Math.max(life.validUntil, sentAt + ttlMs);
    const deadline = sentAt + ttlMs - this.marginMs;
    if (this.clock.now() >= deadline || signal.aborted) throw new Error('elected, but the deadline passed meanwhile');
    const term = new Term(leader.rev, leader.key, life.id, leader, deadline);
    this.term = term;
    this.lastLoss = undefined;
    this.armDeadline(term);
    this.log?.info({ epoch: term.epoch, candidate: this.options.candidate }, 'etcd leadership: elected');
    for (const w of [...this.waiters]) w(term);
    try {
      this.options.onElected?.(term);
    } catch (err) {
      this.log?.error({ err: describe(err) }, 'etcd leadership: onElected threw');
    }
    return term;
  }

  /** Keepalives every TTL/3 (every `retryMs` while they fail) until the lease ends. */
  private async keepAlive(life: LeaseLife): Promise<void> {
    const signal = life.controller.signal;
    while (!signal.aborted) {
      await sleep(this.clock, life.failing ? Math.min(this.intervalMs, this.retryMs) : this.intervalMs, signal);
      if (signal.aborted) return;
      if (this.clock.now() >= life.validUntil)
        return this.loseLease(life, 'no keepalive was acknowledged within the TTL');
      await this.renew(life);
    }
  }

  private async renew(life: LeaseLife): Promise<void> {
    const signal = life.controller.signal;
    const sentAt = this.clock.now();
    let ack: Lease;
    try {
      ack = await this.etcd.leaseKeepAlive(life.id, { signal, timeoutMs: this.callTimeoutMs });
    } catch (err) {
      if (!signal.aborted) this.renewalFailed(life, err);
      return;
    }
    if (ack.ttl <= 0) return this.loseLease(life, LEASE_LOST);
    const ttlMs = Math.min(life.ttlMs, ack.ttl * 1000);
    const current = this.term;
    const term = current && current.lease === life.id ? current : undefined;
    if (term) {
      // An acknowledged keepalive is not proof (etcd 3.4.23 may acknowledge a revoked lease); a guarded read is.
      let held: boolean;
      try {
        const r = await this.etcd.txn(
          { compare: [createRevisionIs(term.key, term.epoch)], success: [] },
          { signal: term.signal, timeoutMs: this.callTimeoutMs },
        );
        held = r.succeeded;
      } catch (err) {
        if (!signal.aborted && !term.signal.aborted) this.renewalFailed(life, err);
        return;
      }
      if (!held) {
        this.endTerm(term, KEY_GONE);
        return this.loseLease(life, KEY_GONE);
      }
      if (!term.ended) {
        term.deadline = Math.max(term.deadline, sentAt + ttlMs - this.marginMs);
        this.armDeadline(term);
      }
    }
    life.failing = false;
    life.validUntil = Math.max(life.validUntil, sentAt + ttlMs);
  }

  private renewalFailed(life: LeaseLife, err: unknown): void {
    life.failing = true;
    this.log?.warn({ err: describe(err) }, 'etcd leadership: keepalive failed');
  }

  private loseLease(life: LeaseLife, reason: string): void {
    const t = this.term;
    if (t && t.lease === life.id) this.endTerm(t, reason);
    life.controller.abort();
  }

  private armDeadline(term: Term): void {
    term.cancelTimer();
    term.cancelTimer = this.clock.setTimer(term.deadline - this.clock.now(), () => {
      if (term.ended) return;
      if (this.clock.now() >= term.deadline) this.endTerm(term, DEADLINE);
      else this.armDeadline(term);
    });
  }

  private endTerm(term: Term, reason: string): void {
    if (term.ended) return;
    term.ended = reason;
    term.cancelTimer();
    if (this.term === term) this.term = undefined;
    this.lastLoss = reason;
    term.controller.abort(new NotLeaderError(`not leader any more: ${reason}`));
    const log = reason === STOPPED ? this.log?.info.bind(this.log) : this.log?.warn.bind(this.log);
    log?.({ epoch: term.epoch, reason }, 'etcd leadership: term ended');
    try {
      this.options.onLost?.(term, reason);
    } catch (err) {
      this.log?.error({ err: describe(err) }, 'etcd leadership: onLost threw');
    }
  }

  /** Resign (guarded by the epoch on etcd's side) and revoke the lease: best effort, each call bounded. */
  private async release(life: LeaseLife, leader: LeaderKey | undefined): Promise<void> {
    const timeoutMs = this.callTimeoutMs;
    if (leader)
      await this.etcd.resign(leader, { timeoutMs }).catch((err: unknown) => {
        this.log?.debug({ err: describe(err) }, 'etcd leadership: resign failed');
      });
    await this.etcd.leaseRevoke(life.id, { timeoutMs }).catch((err: unknown) => {
      this.log?.debug({ err: describe(err) }, 'etcd leadership: lease revoke failed');
    });
  }
}

/** A signal that fires when `a` or `b` does; `done()` detaches it (no listener left on a long-lived signal). */
function linkSignals(a: AbortSignal, b: AbortSignal | undefined): { signal: AbortSignal; done(): void } {
  if (!b) return { signal: a, done: () => {} };
  const controller = new AbortController();
  const onA = () => controller.abort(a.reason);
  const onB = () => controller.abort(b.reason);
  if (a.aborted) onA();
  else if (b.aborted) onB();
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return {
    signal: controller.signal,
    done: () => {
      a.removeEventListener('abort', onA);
      b.removeEventListener('abort', onB);
    },
  };
}
