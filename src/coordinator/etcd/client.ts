/**
 * A thin etcd v3 client over the HTTP/JSON gateway that etcd serves on its client port (`/v3/…`, etcd 3.4), with
 * Node's `fetch`: no gRPC stack, no dependency, and every timer ours (src/coordinator/etcd/README.md says why).
 *
 * Every call is a POST with a JSON body, answered with JSON that one zod schema per call checks (`schemas.ts`).
 * Several endpoints: a call starts at the one that answered last and moves to the next when a connection cannot be
 * made (a write moves on only when it certainly was not sent: connection refused, no route, connect timeout). Every
 * call is bounded in time (`timeoutMs`, default 5 s) and takes an AbortSignal. Errors are `EtcdError`s that name
 * the call and the endpoint, never a value, a body or a header.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import { EtcdError } from './errors.js';
import {
  campaignResponse,
  deleteRangeResponse,
  gatewayError,
  type KeyValue,
  leaderResponse,
  leaseGrantResponse,
  leaseKeepAliveMessage,
  leaseRevokeResponse,
  leaseTimeToLiveResponse,
  observeMessage,
  putResponse,
  rangeResponse,
  resignResponse,
  streamError,
  txnResponse,
} from './schemas.js';

export type { KeyValue } from './schemas.js';

const DEFAULT_TIMEOUT_MS = 5000;
/** How long a streaming call (watch, observe) may take to get its answer's headers. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export interface EtcdClientOptions {
  /** Client URLs, e.g. `http://127.0.0.1:2379`; no credentials, no path. */
  endpoints: readonly string[];
  /** Bound of one call, every endpoint tried included (default 5 s). */
  timeoutMs?: number;
  /** The fetch to use (default: Node's). */
  fetch?: typeof fetch;
  log?: Logger;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's bound for this call. */
  timeoutMs?: number;
}

export interface RangeRequest {
  key: string;
  /** Every key that starts with `key`. */
  prefix?: boolean;
  /** Every key from `key` (included) to `end` (excluded), in key order; takes precedence over `prefix`. */
  end?: string;
  limit?: number;
  /** Oldest first (ascending create revision); default: key order. */
  sortByCreate?: boolean;
  /** Last key first (descending key order); `limit` then keeps the last ones. */
  descending?: boolean;
  keysOnly?: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  count: number;
  more: boolean;
  /** The store's revision when the range was read. */
  revision: number;
}

export type CompareResult = '=' | '!=' | '<' | '>';

/** One condition of a transaction (etcd compares the key's current state when it applies the transaction). */
export type Compare =
  | { key: string; target: 'create'; result?: CompareResult; createRevision: number }
  | { key: string; target: 'mod'; result?: CompareResult; modRevision: number }
  | { key: string; target: 'version'; result?: CompareResult; version: number }
  | { key: string; target: 'value'; result?: CompareResult; value: string }
  | { key: string; target: 'lease'; result?: CompareResult; lease: string };

export type TxnOp =
  | ({ op: 'range' } & RangeRequest)
  | { op: 'put'; key: string; value: string; lease?: string }
  | { op: 'delete'; key: string; prefix?: boolean; end?: string };

export type TxnOpResult =
  { op: 'range'; kvs: KeyValue[]; count: number } | { op: 'put' } | { op: 'delete'; deleted: number };

export interface TxnRequest {
  compare: Compare[];
  success: TxnOp[];
  failure?: TxnOp[];
}

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** One per op of the branch that ran, in order. */
  responses: TxnOpResult[];
}

export interface Lease {
  id: string;
  /** Seconds, as granted or renewed; 0 from a keepalive means the lease is not known (any more). */
  ttl: number;
}

export interface LeaseTimeToLive {
  id: string;
  /** Seconds left; -1 when the lease has expired or never existed. */
  ttl: number;
  grantedTtl: number;
  keys: string[];
}

/** Who leads an election, as `election/campaign` answers: `rev` is the create revision of the leader key. */
export interface LeaderKey {
  name: string;
  key: string;
  rev: number;
  lease: string;
}

/** The condition "`key` was created at revision `rev`" (the key exists and was not deleted and recreated since). */
export function createRevisionIs(key: string, rev: number): Compare {
  return { key, target: 'create', result: '=', createRevision: rev };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** The end of the range of every key that starts with `prefix` (etcd's `range_end`), base64. */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = bytes[i]!;
    if (byte < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = byte + 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64'); // every key
}

const RESULTS: Record<CompareResult, string> = { '=': 'EQUAL', '!=': 'NOT_EQUAL', '<': 'LESS', '>': 'GREATER' };

function encodeCompare(c: Compare): Record<string, string> {
  const base = { key: b64(c.key), result: RESULTS[c.result ?? '='] };
  switch (c.target) {
    case 'create':
      return { ...base, target: 'CREATE', create_revision: String(c.createRevision) };
    case 'mod':
      return { ...base, target: 'MOD', mod_revision: String(c.modRevision) };
    case 'version':
      return { ...base, target: 'VERSION', version: String(c.version) };
    case 'value':
      return { ...base, target: 'VALUE', value: b64(c.value) };
    case 'lease':
      return { ...base, target: 'LEASE', lease: c.lease };
  }
}

function encodeRange(r: RangeRequest): Record<string, unknown> {
  return {
    key: b64(r.key),
    ...rangeEnd(r.key, r.prefix, r.end),
    ...(r.limit !== undefined ? { limit: String(r.limit) } : {}),
    ...(r.sortByCreate ? { sort_order: 'ASCEND', sort_target: 'CREATE' } : {}),
    ...(r.descending && !r.sortByCreate ? { sort_order: 'DESCEND', sort_target: 'KEY' } : {}),
    ...(r.keysOnly ? { keys_only: true } : {}),
  };
}

function encodePut(key: string, value: string, lease?: string): Record<string, unknown> {
  return { key: b64(key), value: b64(value), ...(lease !== undefined ? { lease } : {}) };
}

function rangeEnd(key: string, prefix?: boolean, end?: string): { range_end?: string } {
  if (end !== undefined) return { range_end: b64(end) };
  return prefix ? { range_end: prefixEnd(key) } : {};
}

function encodeDelete(key: string, prefix?: boolean, end?: string): Record<string, unknown> {
  return { key: b64(key), ...rangeEnd(key, prefix, end) };
}

function encodeOp(op: TxnOp): Record<string, unknown> {
  switch (op.op) {
    case 'range':
      return { request_range: encodeRange(op) };
    case 'put':
      return { request_put: encodePut(op.key, op.value, op.lease) };
    case 'delete':
      return { request_delete_range: encodeDelete(op.key, op.prefix, op.end) };
  }
}

/** Connection failures after which the request was certainly not sent: a write may go to the next endpoint. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);
const CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT';

/** The system or undici code of a failed fetch (`fetch failed` hides it in `cause`). */
function connectionCode(err: unknown): string {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const inner = (e as { errors?: unknown }).errors; // AggregateError: one per address tried
    if (Array.isArray(inner) && inner.length > 0) return connectionCode(inner[0]);
  }
  return err instanceof Error ? err.message : 'unknown error';
}

/** A one-line text of etcd's own, bounded: etcd's messages name the reason, never a stored value. */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function issuesOf(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(answer)'}: ${i.message}`)
    .join('; ');
}

function parseJson<S extends z.ZodType>(call: string, json: unknown, schema: S): z.output<S> {
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new EtcdError(
      'bad-answer',
      call,
      `etcd ${call}: the answer does not match its schema (${issuesOf(parsed.error)})`,
    );
  return parsed.data;
}

function parseText<S extends z.ZodType>(call: string, text: string, schema: S): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EtcdError('bad-answer', call, `etcd ${call}: the answer is not JSON`);
  }
  return parseJson(call, json, schema);
}

function jsonLine(call: string, line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    throw new EtcdError('bad-answer', call, `etcd ${call}: a stream message is not JSON`);
  }
}

/** The error a stream message carries (`{error: {grpc_code, message}}`), as an EtcdError. */
function streamRefusal(call: string, error: unknown): EtcdError {
  const e = streamError.safeParse(error);
  const message = e.success && e.data.message ? oneLine(e.data.message) : 'an error without a message';
  return new EtcdError('refused', call, `etcd refused ${call}: ${message}`, {
    grpcCode: e.success ? e.data.grpc_code : undefined,
  });
}

/** A signal that fires when `parent` does or after `timeoutMs`; `done()` releases both. */
function bounded(parent: AbortSignal | undefined, timeoutMs: number) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  timer.unref();
  const onAbort = () => controller.abort();
  if (parent?.aborted) controller.abort();
  else parent?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    /** Ends whatever still uses the signal (a stream's connection when its reader stops early). */
    abort: () => controller.abort(),
    timedOut: () => timedOut,
    /** Stops the timer (a stream keeps running past its connect bound). */
    clearTimer: () => clearTimeout(timer),
    done: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}

/** gRPC's Unavailable: this member cannot serve now (no leader, stopping); another one may. */
const GRPC_UNAVAILABLE = 14;

export class EtcdClient {
  readonly endpoints: readonly string[];
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly log: Logger | undefined;
  /** The endpoint that answered last: calls start there. */
  private preferred = 0;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new Error('etcd: no endpoint given');
    this.endpoints = options.endpoints.map((e, i) => checkEndpoint(e, i));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchImpl = options.fetch ?? fetch;
    this.log = options.log;
  }

  // ---- kv

  async range(request: RangeRequest, options: CallOptions = {}): Promise<RangeResult> {
    const r = await this.unary('kv/range', encodeRange(request), rangeResponse, options, true);
    return { kvs: r.kvs, count: r.count, more: r.more, revision: r.header.revision };
  }

  /** The value of `key`, or undefined when it does not exist. */
  async get(key: string, options: CallOptions = {}): Promise<KeyValue | undefined> {
    return (await this.range({ key }, options)).kvs[0];
  }

  /** Writes `key`; `lease` binds it to a lease (deleted when the lease ends). Answers the new revision. */
  async put(key: string, value: string, options: CallOptions & { lease?: string } = {}): Promise<number> {
    const r = await this.unary('kv/put', encodePut(key, value, options.lease), putResponse, options, false);
    return r.header.revision;
  }

  /** Deletes `key` (or every key under it with `prefix`); answers how many were deleted. */
  async delete(key: string, options: CallOptions & { prefix?: boolean } = {}): Promise<number> {
    const r = await this.unary(
      'kv/deleterange',
      encodeDelete(key, options.prefix),
      deleteRangeResponse,
      options,
      false,
    );
    return r.deleted;
  }

  /** If every compare holds, runs `success`, else `failure`, atomically. */
  async txn(request: TxnRequest, options: CallOptions = {}): Promise<TxnResult> {
    const body = {
      compare: request.compare.map(encodeCompare),
      success: request.success.map(encodeOp),
      failure: (request.failure ?? []).map(encodeOp),
    };
    const readOnly = [...request.success, ...(request.failure ?? [])].every((op) => op.op === 'range');
    const r = await this.unary('kv/txn', body, txnResponse, options, readOnly);
    const ops = r.succeeded ? request.success : (request.failure ?? []);
    if (r.responses.length !== ops.length)
      throw new EtcdError('bad-answer', 'kv/txn', `etcd kv/txn: ${r.responses.length} responses for ${ops.length} ops`);
    const responses = r.responses.map((resp, i): TxnOpResult => {
      const op = ops[i]!;
      switch (op.op) {
        case 'range':
          if (!resp.response_range) break;
          return { op: 'range', kvs: resp.response_range.kvs, count: resp.response_range.count };
        case 'put':
          if (!resp.response_put) break;
          return { op: 'put' };
        case 'delete':
          if (!resp.response_delete_range) break;
          return { op: 'delete', deleted: resp.response_delete_range.deleted };
      }
      throw new EtcdError('bad-answer', 'kv/txn', `etcd kv/txn: response ${i} does not answer a ${op.op}`);
    });
    return { succeeded: r.succeeded, revision: r.header.revision, responses };
  }

  // ---- leases

  async leaseGrant(ttlSeconds: number, options: CallOptions = {}): Promise<Lease> {
    const r = await this.unary('lease/grant', { TTL: String(ttlSeconds) }, leaseGrantResponse, options, false);
    if (r.error) throw new EtcdError('refused', 'lease/grant', `etcd refused lease/grant: ${oneLine(r.error)}`);
    return { id: r.ID, ttl: r.TTL };
  }

  /**
   * One keepalive (one POST to the keepalive stream, one answer). `ttl` 0 means etcd does not know the lease any
   * more. A positive answer is not proof that the lease lives: etcd 3.4.23 may acknowledge a revoked lease.
   */
  async leaseKeepAlive(id: string, options: CallOptions = {}): Promise<Lease> {
    const call = 'lease/keepalive';
    const text = await this.unaryText(call, { ID: id }, options, true);
    const first = text.split('\n').find((l) => l.trim() !== '');
    if (first === undefined) throw new EtcdError('bad-answer', call, `etcd ${call}: an empty answer`);
    const m = parseText(call, first, leaseKeepAliveMessage);
    if (m.error !== undefined) throw streamRefusal(call, m.error);
    if (!m.result) throw new EtcdError('bad-answer', call, `etcd ${call}: an answer without a result`);
    return { id: m.result.ID, ttl: m.result.TTL };
  }

  /** Ends the lease at once; its keys are deleted. */
  async leaseRevoke(id: string, options: CallOptions = {}): Promise<void> {
    await this.unary('lease/revoke', { ID: id }, leaseRevokeResponse, options, true);
  }

  async leaseTimeToLive(id: string, options: CallOptions & { keys?: boolean } = {}): Promise<LeaseTimeToLive> {
    const body = { ID: id, ...(options.keys ? { keys: true } : {}) };
    const r = await this.unary('lease/timetolive', body, leaseTimeToLiveResponse, options, true);
    return { id: r.ID, ttl: r.TTL, grantedTtl: r.grantedTTL, keys: r.keys };
  }

  // ---- election (etcd's v3election service: leader = the key under `name/` with the lowest create revision)

  /**
   * Puts `name/<lease in hex>` = `value` bound to `lease` and waits until it is the oldest key under `name/`: answers
   * once this candidate leads. Blocks as long as another leads: give it a bound (`timeoutMs`) and call again; when a
   * campaign is cut off etcd deletes the candidate's key.
   */
  async campaign(name: string, lease: string, value: string, options: CallOptions = {}): Promise<LeaderKey> {
    const body = { name: b64(name), lease, value: b64(value) };
    const r = await this.unary('election/campaign', body, campaignResponse, options, false);
    return r.leader;
  }

  /** The leader's key and value, or undefined when nobody leads. */
  async leader(name: string, options: CallOptions = {}): Promise<KeyValue | undefined> {
    try {
      return (await this.unary('election/leader', { name: b64(name) }, leaderResponse, options, true)).kv;
    } catch (err) {
      if (err instanceof EtcdError && err.kind === 'refused' && /election: no leader/.test(err.message))
        return undefined;
      throw err;
    }
  }

  /** Gives leadership up: etcd deletes the leader key if it still has the create revision `leader.rev`. */
  async resign(leader: LeaderKey, options: CallOptions = {}): Promise<void> {
    const body = {
      leader: { name: b64(leader.name), key: b64(leader.key), rev: String(leader.rev), lease: leader.lease },
    };
    await this.unary('election/resign', body, resignResponse, options, true);
  }

  /**
   * The leader of `name` each time it changes (first the current one), until `signal` fires. etcd answers nothing,
   * headers included, while nobody leads: the call then fails after `connectTimeoutMs` (a timeout EtcdError).
   */
  async *observe(name: string, options: { signal: AbortSignal; connectTimeoutMs?: number }): AsyncGenerator<KeyValue> {
    for await (const msg of this.stream('election/observe', { name: b64(name) }, options)) {
      const m = parseJson('election/observe', msg, observeMessage);
      if (m.error !== undefined) throw streamRefusal('election/observe', m.error);
      if (m.result?.kv) yield m.result.kv;
    }
  }

  // ---- the transport

  /**
   * A streaming call (`watch`, `election/observe`): the JSON messages of its answer, one by one, until etcd ends
   * it or `signal` fires (then the generator just returns). Only the connection is bounded (`connectTimeoutMs`).
   */
  async *stream(
    call: string,
    body: unknown,
    options: { signal: AbortSignal; connectTimeoutMs?: number },
  ): AsyncGenerator<unknown> {
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const bound = bounded(options.signal, timeoutMs);
    try {
      const res = await this.send(call, body, bound.signal, true, () =>
        this.whyAborted(call, bound, options, timeoutMs, true),
      );
      bound.clearTimer();
      if (!res.body) throw new EtcdError('bad-answer', call, `etcd ${call}: an answer without a body`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          buffered += decoder.decode(value, { stream: true });
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line !== '') yield jsonLine(call, line);
          }
        }
      } catch (err) {
        if (options.signal.aborted) return;
        if (err instanceof EtcdError) throw err;
        throw new EtcdError('unavailable', call, `etcd ${call}: the stream was cut (${connectionCode(err)})`);
      }
    } catch (err) {
      if (options.signal.aborted && err instanceof EtcdError && err.kind === 'aborted') return;
      throw err;
    } finally {
      // Also when the caller stops reading early: the connection must not stay open.
      bound.abort();
      bound.done();
    }
  }

  private whyAborted(
    call: string,
    bound: { timedOut(): boolean },
    options: CallOptions,
    timeoutMs: number,
    idempotent: boolean,
  ): EtcdError {
    if (bound.timedOut() && !options.signal?.aborted)
      return new EtcdError('timeout', call, `etcd ${call} did not answer within ${timeoutMs} ms`, {
        outcomeUnknown: !idempotent,
      });
    return new EtcdError('aborted', call, `etcd ${call} was aborted`, { outcomeUnknown: !idempotent });
  }

  private async unary<S extends z.ZodType>(
    call: string,
    body: unknown,
    schema: S,
    options: CallOptions,
    idempotent: boolean,
  ): Promise<z.output<S>> {
    return parseText(call, await this.unaryText(call, body, options, idempotent), schema);
  }

  private async unaryText(call: string, body: unknown, options: CallOptions, idempotent: boolean): Promise<string> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const bound = bounded(options.signal, timeoutMs);
    const why = () => this.whyAborted(call, bound, options, timeoutMs, idempotent);
    try {
      const res = await this.send(call, body, bound.signal, idempotent, why);
      try {
        return await res.text();
      } catch (err) {
        if (bound.signal.aborted) throw why();
        throw new EtcdError('unavailable', call, `etcd ${call}: the answer was cut off (${connectionCode(err)})`, {
          outcomeUnknown: !idempotent,
        });
      }
    } finally {
      bound.done();
    }
  }

  /** POSTs `body` to the endpoints in turn, from the preferred one; answers the first 200 response. */
  private async send(
    call: string,
    body: unknown,
    signal: AbortSignal,
    idempotent: boolean,
    whyAborted: () => EtcdError,
  ): Promise<Response> {
    const n = this.endpoints.length;
    const start = this.preferred;
    const failures: string[] = [];
    const text = JSON.stringify(body);
    for (let i = 0; i < n; i++) {
      const index = (start + i) % n;
      const endpoint = this.endpoints[index]!;
      let res: Response;
      try {
        res = await this.fetchImpl(`${endpoint}/v3/${call}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: text,
          signal,
        });
      } catch (err) {
        if (signal.aborted) {
          const e = whyAborted();
          // This member did not answer in time: the next call starts at another one.
          if (e.kind === 'timeout') this.preferred = (index + 1) % n;
          throw e;
        }
        const code = connectionCode(err);
        if (!idempotent && !NOT_SENT.has(code) && code !== CONNECT_TIMEOUT)
          throw new EtcdError(
            'unavailable',
            call,
            `etcd ${call} failed at ${endpoint} (${code}); it may have been applied`,
            {
              outcomeUnknown: true,
            },
          );
        failures.push(`${endpoint}: ${code}`);
        this.log?.warn({ call, endpoint, reason: code }, 'etcd endpoint unreachable, trying the next one');
        continue;
      }
      if (res.ok) {
        this.preferred = index;
        return res;
      }
      const refusal = await this.refusal(call, endpoint, res, signal, whyAborted);
      if (idempotent && refusal.details.grpcCode === GRPC_UNAVAILABLE && i < n - 1) {
        failures.push(`${endpoint}: ${refusal.message}`);
        this.log?.warn({ call, endpoint, reason: refusal.message }, 'etcd member unavailable, trying the next one');
        continue;
      }
      throw refusal;
    }
    this.preferred = (start + 1) % n;
    throw new EtcdError('unavailable', call, `etcd ${call}: no endpoint answered (${failures.join('; ')})`);
  }

  private async refusal(
    call: string,
    endpoint: string,
    res: Response,
    signal: AbortSignal,
    whyAborted: () => EtcdError,
  ): Promise<EtcdError> {
    let text = '';
    try {
      text = await res.text();
    } catch {
      if (signal.aborted) return whyAborted();
    }
    let message = `HTTP ${res.status}`;
    let grpcCode: number | undefined;
    try {
      const body = gatewayError.safeParse(JSON.parse(text));
      if (body.success) {
        grpcCode = body.data.code;
        const why = body.data.message ?? (typeof body.data.error === 'string' ? body.data.error : undefined);
        if (why) message = oneLine(why);
      }
    } catch {
      /* not JSON: the status says enough */
    }
    return new EtcdError('refused', call, `etcd refused ${call} at ${endpoint}: ${message}`, { grpcCode });
  }
}

/** An endpoint's origin; one with credentials or a path is refused without repeating it (it may hold a secret). */
function checkEndpoint(endpoint: string, index: number): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`etcd endpoint #${index + 1} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`etcd endpoint #${index + 1} is not an http or https URL`);
  if (url.username || url.password) throw new Error(`etcd endpoint #${index + 1} must not carry credentials`);
  if (url.pathname !== '/' || url.search || url.hash)
    throw new Error(`etcd endpoint #${index + 1} must be scheme, host and port only`);
  return url.origin;
}
