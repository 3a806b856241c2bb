/**
 * A watch of every key under a prefix over the gateway's streaming `watch` call, that reconnects by itself: after a
 * cut stream it starts again from the revision after the last one delivered, so the caller sees every change once,
 * in order, or learns that etcd compacted what it had not seen yet.
 */
import type { Logger } from 'pino';
import { type EtcdClient, prefixEnd } from './client.js';
import { type Clock, monotonicClock, sleep } from './clock.js';
import { EtcdError } from './errors.js';
import { type WatchEvent, watchMessage } from './schemas.js';

export type { WatchEvent } from './schemas.js';

export interface WatchOptions {
  prefix: string;
  /** The first revision to deliver (default: changes after the watch starts). */
  startRevision?: number;
  /** Ends the watch. */
  signal: AbortSignal;
  /** The changes of one revision or more, in order; `revision` is the store's revision they bring the caller to. */
  onEvents: (events: WatchEvent[], revision: number) => void;
  /**
   * etcd has compacted revisions the watch had not delivered yet: the caller must read the prefix again. The watch
   * goes on from `compactRevision`.
   */
  onCompacted?: (compactRevision: number) => void;
  /** Pause before reconnecting (default 500 ms). */
  retryMs?: number;
  clock?: Clock;
  log?: Logger;
}

/** Runs until `options.signal` fires; resolves then. */
export async function watchPrefix(etcd: Pick<EtcdClient, 'stream'>, options: WatchOptions): Promise<void> {
  const { signal } = options;
  const clock = options.clock ?? monotonicClock;
  let next = options.startRevision ?? 0;
  while (!signal.aborted) {
    const body = {
      create_request: {
        key: Buffer.from(options.prefix, 'utf8').toString('base64'),
        range_end: prefixEnd(options.prefix),
        ...(next > 0 ? { start_revision: String(next) } : {}),
        prev_kv: true,
        progress_notify: true,
      },
    };
    try {
      for await (const raw of etcd.stream('watch', body, { signal })) {
        const parsed = watchMessage.safeParse(raw);
        if (!parsed.success)
          throw new EtcdError('bad-answer', 'watch', 'etcd watch: a message does not match its schema');
        if (parsed.data.error !== undefined)
          throw new EtcdError('refused', 'watch', 'etcd watch: the stream ended with an error');
        const m = parsed.data.result;
        if (!m) continue;
        if (m.compact_revision > 0) {
          // Our start revision was compacted: etcd cancels the watch. Tell the caller, go on from there.
          next = m.compact_revision;
          options.onCompacted?.(m.compact_revision);
          break;
        }
        if (m.canceled) throw new EtcdError('refused', 'watch', 'etcd watch: etcd cancelled the watch');
        if (m.events.length > 0) {
          const last = m.events[m.events.length - 1]!.kv.modRevision;
          next = last + 1;
          options.onEvents(m.events, last);
        } else if (m.header.revision > 0 && (m.created ? next === 0 : true)) {
          // Created (without a start revision) or a progress notification: nothing before it is left to deliver.
          next = Math.max(next, m.header.revision + 1);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      options.log?.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'etcd watch: stream cut, reconnecting',
      );
    }
    if (!signal.aborted) await sleep(clock, options.retryMs ?? 500, signal);
  }
}
