/**
 * How a replica's lost term reaches the audit trail. Only the leader writes there (under its epoch), so a replica
 * whose term ended, other than by its own stop, queues a `stepped-down` command that the next leader's core enters
 * as an audit event. Before queueing, it sends etcd one transaction guarded by the old epoch (it writes nothing):
 * etcd refusing it is the proof that every write of the old term now fails. The report also names the writes the
 * store refused under that epoch and the side effects the end cut off. A report waits (bounded) while etcd is away.
 */
import type { Logger } from 'pino';
import type { Command } from '../core/types.js';
import { createRevisionIs, type EtcdClient } from '../etcd/client.js';
import type { Clock } from '../etcd/clock.js';
import { monotonicClock, sleep } from '../etcd/clock.js';
import { type LeaderTerm, TERM_STOPPED } from '../etcd/leadership.js';
import { enqueueOp } from '../store/command-queue.js';
import type { StoreKeys } from '../store/keys.js';

type Report = Extract<Command, { kind: 'stepped-down' }>;

export interface StepDownOptions {
  replica: string;
  etcd: Pick<EtcdClient, 'txn' | 'leader'>;
  keys: StoreKeys;
  /** The side effects in flight (the driver's): those at the end of a term were aborted by it. */
  inFlight: () => string[];
  /** How long after the end the report waits for the term's last refused writes (two driver ticks are enough). */
  settleMs: number;
  /** Pause between attempts while etcd does not answer. */
  retryMs?: number;
  /** Each etcd call's bound. */
  callTimeoutMs?: number;
  clock?: Clock;
  log: Logger;
}

/** At most this many reports wait for etcd, and this many refused writes are named per report. */
const MAX_WAITING = 10;
const MAX_NAMED = 50;

export class StepDownReports {
  private readonly refusedBy = new Map<number, string[]>();
  private readonly waiting: { term: LeaderTerm; reason: string; cutOff: string[] }[] = [];
  private readonly stopping = new AbortController();
  private readonly clock: Clock;
  private running: Promise<void> | undefined;

  constructor(private readonly o: StepDownOptions) {
    this.clock = o.clock ?? monotonicClock;
  }

  /** The store refused `what` under `epoch` (the term had ended). */
  refused(epoch: number, what: string): void {
    const list = this.refusedBy.get(epoch) ?? [];
    if (list.length < MAX_NAMED) list.push(what);
    this.refusedBy.set(epoch, list);
  }

  /**
   * A term ended for `reason` (called as it ends, before the aborted calls settle); a clean stop is not news.
   */
  ended(term: LeaderTerm, reason: string): void {
    if (reason === TERM_STOPPED || this.stopping.signal.aborted) return;
    if (this.waiting.length >= MAX_WAITING) this.waiting.shift();
    this.waiting.push({ term, reason, cutOff: this.o.inFlight().slice(0, MAX_NAMED) });
    this.kick();
  }

  /** Stops delivering; what was not delivered by then is only in the log. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private kick(): void {
    if (this.running || this.stopping.signal.aborted) return;
    this.running = this.deliver().finally(() => {
      this.running = undefined;
      if (this.waiting.length > 0) this.kick();
    });
  }

  private async deliver(): Promise<void> {
    const signal = this.stopping.signal;
    await sleep(this.clock, this.o.settleMs, signal);
    while (this.waiting.length > 0 && !signal.aborted) {
      const { term, reason, cutOff } = this.waiting[0]!;
      try {
        await this.send(term, reason, cutOff);
        this.waiting.shift();
      } catch (err) {
        this.o.log.warn(
          { epoch: term.epoch, err: err instanceof Error ? err.message : String(err) },
          'the report of a lost term could not be queued yet; trying again',
        );
        await sleep(this.clock, this.o.retryMs ?? 2000, signal);
      }
    }
  }

  private async send(term: LeaderTerm, reason: string, cutOff: string[]): Promise<void> {
    const call = { signal: this.stopping.signal, timeoutMs: this.o.callTimeoutMs ?? 3000 };
    const probe = await this.o.etcd.txn({ compare: [createRevisionIs(term.key, term.epoch)], success: [] }, call);
    const leader = await this.o.etcd.leader(this.o.keys.election, call).catch(() => undefined);
    const report: Report = {
      kind: 'stepped-down',
      by: this.o.replica,
      epoch: term.epoch,
      reason,
      refused: this.refusedBy.get(term.epoch) ?? [],
      cutOff,
      etcd: probe.succeeded ? 'held' : 'refused',
      ...(leader ? { leader: { epoch: leader.createRevision, name: leader.value.slice(0, 500) } } : {}),
    };
    await this.o.etcd.txn({ compare: [], success: [enqueueOp(this.o.keys, report)] }, call);
    this.refusedBy.delete(term.epoch);
    this.o.log.warn({ report }, 'this replica lost its term: reported to the audit trail through the command queue');
  }
}
