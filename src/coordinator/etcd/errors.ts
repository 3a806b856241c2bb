/**
 * The etcd layer's failures. A message names the call (`kv/put`, `lease/keepalive`, …), the endpoint when it
 * matters, and etcd's own reason; never a key's value, a request body or a header: whatever the caller stored may be
 * sensitive, so no error repeats it.
 */

/**
 * - `unavailable`: no endpoint could be reached (connection refused, reset, closed); `outcomeUnknown` says whether a
 *   write may still have been applied (it was sent before the connection failed).
 * - `timeout`: the call's time bound passed (the write, if any, may have been applied).
 * - `aborted`: the caller's AbortSignal fired.
 * - `refused`: etcd answered with an error (an HTTP status other than 200): `grpcCode` and etcd's message.
 * - `bad-answer`: etcd answered 200 with something our schema does not allow.
 */
export type EtcdErrorKind = 'unavailable' | 'timeout' | 'aborted' | 'refused' | 'bad-answer';

export class EtcdError extends Error {
  override readonly name = 'EtcdError';

  constructor(
    readonly kind: EtcdErrorKind,
    /** The gateway call, e.g. `kv/txn`. */
    readonly call: string,
    message: string,
    readonly details: { grpcCode?: number; outcomeUnknown?: boolean } = {},
  ) {
    super(message);
  }
}

/**
 * Thrown by `Leadership.guarded` when this replica does not lead (any more): its deadline passed, its leader key is
 * gone or was recreated, or it stopped. Nothing guarded was applied, except when `outcomeUnknown` is set (the
 * transaction was in flight when leadership ended; etcd applied it only if the guard still held).
 */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';

  constructor(
    message: string,
    readonly outcomeUnknown = false,
  ) {
    super(message);
  }
}
