/**
 * What etcd's HTTP/JSON gateway (3.4, `/v3/…` on the client port) answers, one schema per call. The gateway is
 * grpc-gateway over etcd's protobuf messages: field names as in the .proto files (`create_revision`, `TTL`), int64
 * as decimal strings, bytes as base64, and fields holding their zero value left out (an empty range has no `kvs`,
 * a lease keepalive for an unknown lease no `TTL`), hence the defaults below.
 */
import { z } from 'zod';

/** An int64 counter (revision, TTL, count) as a number; etcd's counters stay far below 2^53. */
const int64 = z.union([z.string().regex(/^-?\d+$/), z.number().int()]).transform((v, ctx) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: 'custom', message: 'not a safe integer' });
    return z.NEVER;
  }
  return n;
});

/** An int64 identifier (lease, member, cluster) kept as its decimal string: lease IDs use all 64 bits. */
const id64 = z.union([z.string().regex(/^-?\d+$/), z.number().int()]).transform((v) => String(v));

/** Bytes (a key or a value) as base64, read as UTF-8 text: the coordinator stores text (JSON) only. */
const bytes = z.string().transform((b) => Buffer.from(b, 'base64').toString('utf8'));

export const responseHeader = z.object({
  cluster_id: id64.optional(),
  member_id: id64.optional(),
  revision: int64.default(0),
  raft_term: int64.default(0),
});

export const keyValue = z
  .object({
    key: bytes,
    create_revision: int64.default(0),
    mod_revision: int64.default(0),
    version: int64.default(0),
    value: bytes.default(''),
    lease: id64.default('0'),
  })
  .transform((kv) => ({
    key: kv.key,
    value: kv.value,
    createRevision: kv.create_revision,
    modRevision: kv.mod_revision,
    version: kv.version,
    lease: kv.lease,
  }));
export type KeyValue = z.output<typeof keyValue>;

export const rangeResponse = z.object({
  header: responseHeader.default({ revision: 0, raft_term: 0 }),
  kvs: z.array(keyValue).default([]),
  more: z.boolean().default(false),
  count: int64.default(0),
});

export const putResponse = z.object({
  header: responseHeader.default({ revision: 0, raft_term: 0 }),
  prev_kv: keyValue.optional(),
});

export const deleteRangeResponse = z.object({
  header: responseHeader.default({ revision: 0, raft_term: 0 }),
  deleted: int64.default(0),
  prev_kvs: z.array(keyValue).default([]),
});

/** One element of a transaction's `responses`: exactly one of the four is set. */
export const responseOp = z.object({
  response_range: rangeResponse.optional(),
  response_put: putResponse.optional(),
  response_delete_range: deleteRangeResponse.optional(),
  response_txn: z.unknown().optional(),
});

export const txnResponse = z.object({
  header: responseHeader.default({ revision: 0, raft_term: 0 }),
  succeeded: z.boolean().default(false),
  responses: z.array(responseOp).default([]),
});

export const leaseGrantResponse = z.object({
  header: responseHeader.default({ revision: 0, raft_term: 0 }),
  ID: id64,
  TTL: int64.default(0),
  error: z.string().default(''),
});

/** One message of the keepalive stream: `TTL` absent (0) means the lease is not known (any more). */
export const leaseKeepAliveMessage = z.object({
  result: z
    .object({
      header: responseHeader.default({ revision: 0, raft_term: 0 }),
      ID: id64.default('0'),
      TTL: int64.default(0),
    })
    .optional(),
  error: z.unknown().optional(),
});

export const leaseRevokeResponse = z.object({ header: responseHeader.default({ revision: 0, raft_term: 0 }) });

/** `TTL` -1 means the lease has expired or never existed. */
export const leaseTimeToLiveResponse = z.object({
  header: responseHeader.default({ revision: 0, raft_term: 0 }),
  ID: id64.default('0'),
  TTL: int64.default(0),
  grantedTTL: int64.default(0),
  keys: z.array(bytes).default([]),
});

export const leaderKey = z.object({
  name: bytes,
  key: bytes,
  rev: int64.default(0),
  lease: id64.default('0'),
});

export const campaignResponse = z.object({
  header: responseHeader.default({ revision: 0, raft_term: 0 }),
  leader: leaderKey,
});

export const leaderResponse = z.object({
  header: responseHeader.default({ revision: 0, raft_term: 0 }),
  kv: keyValue.optional(),
});

export const resignResponse = z.object({ header: responseHeader.default({ revision: 0, raft_term: 0 }) });

/** One message of the election's observe stream: the leader's key as it changes. */
export const observeMessage = z.object({
  result: z
    .object({ header: responseHeader.default({ revision: 0, raft_term: 0 }), kv: keyValue.optional() })
    .optional(),
  error: z.unknown().optional(),
});

export const watchEvent = z
  .object({
    type: z.enum(['PUT', 'DELETE']).default('PUT'),
    kv: keyValue,
    prev_kv: keyValue.optional(),
  })
  .transform((e) => ({ type: e.type === 'PUT' ? ('put' as const) : ('delete' as const), kv: e.kv, prevKv: e.prev_kv }));
export type WatchEvent = z.output<typeof watchEvent>;

/** One message of the watch stream. */
export const watchMessage = z.object({
  result: z
    .object({
      header: responseHeader.default({ revision: 0, raft_term: 0 }),
      watch_id: id64.default('0'),
      created: z.boolean().default(false),
      canceled: z.boolean().default(false),
      compact_revision: int64.default(0),
      cancel_reason: z.string().default(''),
      events: z.array(watchEvent).default([]),
    })
    .optional(),
  error: z.unknown().optional(),
});

/**
 * The body of a refusal (HTTP status other than 200): grpc-gateway's `{error, code, message}`; a stream carries
 * `{error: {grpc_code, http_code, message, http_status}}` instead.
 */
export const gatewayError = z.object({
  error: z.unknown().optional(),
  code: z.number().optional(),
  message: z.string().optional(),
});

export const streamError = z.object({
  grpc_code: z.number().optional(),
  http_code: z.number().optional(),
  message: z.string().optional(),
});

export const healthResponse = z.object({ health: z.string() });
