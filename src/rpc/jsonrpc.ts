import { performance } from 'node:perf_hooks';
import {
  createJSONRPCErrorResponse,
  type JSONRPCErrorResponse,
  JSONRPCErrorException,
  type JSONRPCID,
  type JSONRPCResponse,
  JSONRPCServer,
} from 'json-rpc-2.0';
import type { Logger } from 'pino';
import { RPC_ERRORS, VDSM_ERRORS, VdsmError } from '../common/errors.js';
import { UNKNOWN_METHOD } from './metrics.js';
import { redactSecrets } from './redact.js';

/** Facts about the request that a method may use; the transport fills them. */
export interface CallContext {
  flowId?: string;
  localAddress?: string;
  remoteAddress?: string;
  /**
   * The reply goes where the oVirt engine reads. Its client takes an error with id null for a failure of the whole
   * connection and throws on a numeric code, so such errors are logged there and never sent.
   */
  engineReadsReply?: boolean;
}

export type Method = (params: Record<string, unknown> | unknown[], ctx: CallContext) => unknown;

export interface DispatcherOptions {
  log: Logger;
  /** While this returns false every call is answered with error 99, as vdsm does during recovery. */
  isReady?: () => boolean;
  /** Told of every answered request (WireMetrics fits): a registered method or UNKNOWN_METHOD, code, seconds. */
  onRequest?: (method: string, code: number, seconds: number) => void;
}

type Single = { response: JSONRPCResponse | null; method?: string };

/** What the engine reads for a failure that is not a VdsmError; the detail stays in our log. */
const INTERNAL_ERROR = 'Internal JSON-RPC error';

/**
 * JSON-RPC 2.0 on top of `json-rpc-2.0`'s server: we validate the envelope ourselves (the library assumes an
 * object and answers a one-element batch with a bare object), then let it dispatch. Batches are answered element
 * by element in an array (an empty one not at all); notifications run and are never answered; an error always
 * carries the request's id when the request had a usable one.
 */
export class JsonRpcDispatcher {
  private readonly server = new JSONRPCServer<CallContext>({ errorListener: () => {} });
  private readonly log: Logger;
  private readonly isReady: () => boolean;
  private readonly onRequest: DispatcherOptions['onRequest'];

  constructor(options: DispatcherOptions) {
    this.log = options.log;
    this.isReady = options.isReady ?? (() => true);
    this.onRequest = options.onRequest;
  }

  register(name: string, method: Method): void {
    // Only a VdsmError speaks to the engine with its own code. Anything else (a libvirt error number, a child's
    // exit status, a bug) is ours to log: the engine would read its `code` as a vdsm error code.
    const fail = (err: unknown): never => {
      if (err instanceof VdsmError) throw new JSONRPCErrorException(err.message, err.code);
      this.log.error({ err, method: name }, 'verb failed unexpectedly');
      throw new JSONRPCErrorException(INTERNAL_ERROR, RPC_ERRORS.internalError);
    };
    // vdsm turns a verb without a payload (None) into `true`.
    const done = (result: unknown) => (result === undefined ? true : result);
    // Not an async function: a synchronous verb (Host.ping2) costs no extra promise on the hot path.
    this.server.addMethod(name, (params, ctx) => {
      try {
        const out = method(params as Record<string, unknown> | unknown[], ctx);
        return out instanceof Promise ? out.then(done, fail) : done(out);
      } catch (err) {
        return fail(err);
      }
    });
  }

  has(name: string): boolean {
    return this.server.hasMethod(name);
  }

  /** Executes one message (a request, a notification or a batch) and returns the reply text, or null. */
  async handle(text: string, ctx: CallContext = {}): Promise<string | null> {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.log.info({ code: RPC_ERRORS.parseError, flow_id: ctx.flowId }, 'rpc parse error');
      return this.reply(errorResponse(null, RPC_ERRORS.parseError, 'Parse error'), ctx);
    }
    if (!Array.isArray(message)) return this.reply((await this.handleOne(message, ctx)).response, ctx);
    if (message.length === 0) {
      this.log.info({ code: RPC_ERRORS.invalidRequest, flow_id: ctx.flowId }, 'rpc empty batch');
      return this.reply(errorResponse(null, RPC_ERRORS.invalidRequest, 'Empty batch'), ctx);
    }
    const responses = (await Promise.all(message.map((m) => this.handleOne(m, ctx))))
      .map((r) => r.response)
      .filter((r): r is JSONRPCResponse => r !== null && this.sendable(r, ctx));
    return responses.length === 0 ? null : JSON.stringify(responses);
  }

  private reply(response: JSONRPCResponse | null, ctx: CallContext): string | null {
    return response !== null && this.sendable(response, ctx) ? JSON.stringify(response) : null;
  }

  /** Every error without an id: kept from the engine (see CallContext.engineReadsReply), sent to anyone else. */
  private sendable(response: JSONRPCResponse, ctx: CallContext): boolean {
    if (!ctx.engineReadsReply || response.id !== null || !('error' in response)) return true;
    this.log.info(
      { code: (response as JSONRPCErrorResponse).error.code, flow_id: ctx.flowId },
      'rpc error without an id not sent to the engine',
    );
    return false;
  }

  private handleOne(request: unknown, ctx: CallContext): Promise<Single> {
    const started = performance.now();
    const single = this.dispatch(request, ctx);
    if ('then' in single) return Promise.resolve(single.then((s) => this.logged(request, ctx, started, s)));
    return Promise.resolve(this.logged(request, ctx, started, single));
  }

  /** The one log line per request: method, id, flow id, duration in ms and result code (0 = success). */
  private logged(request: unknown, ctx: CallContext, started: number, single: Single): Single {
    const error =
      single.response && 'error' in single.response ? (single.response as JSONRPCErrorResponse).error : undefined;
    const ms = performance.now() - started;
    const code = error ? error.code : 0;
    this.log.info(
      {
        method: single.method,
        id: (request as { id?: unknown } | null)?.id,
        flow_id: ctx.flowId,
        ms: Math.round(ms * 1000) / 1000,
        code,
      },
      'rpc',
    );
    if (this.onRequest) {
      const known = single.method !== undefined && this.server.hasMethod(single.method);
      this.onRequest(known ? single.method! : UNKNOWN_METHOD, code, ms / 1000);
    }
    return single;
  }

  private dispatch(request: unknown, ctx: CallContext): Single | PromiseLike<Single> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return { response: errorResponse(null, RPC_ERRORS.invalidRequest, 'Invalid request: not an object') };
    }
    const r = request as Record<string, unknown>;
    const hasId = 'id' in r;
    const idUsable = typeof r.id === 'string' || typeof r.id === 'number' || r.id === null;
    const id = idUsable ? (r.id as JSONRPCID) : null;
    const method = typeof r.method === 'string' ? r.method : undefined;
    const fail = (code: number, message: string): Single => ({ response: errorResponse(id, code, message), method });

    if (hasId && !idUsable)
      return fail(RPC_ERRORS.invalidRequest, 'Invalid request: id must be a string, number or null');
    if (r.jsonrpc !== '2.0') return fail(RPC_ERRORS.invalidRequest, 'Wrong protocol version');
    if (method === undefined) return fail(RPC_ERRORS.invalidRequest, 'Invalid request: method must be a string');
    const params = r.params ?? {};
    if (typeof params !== 'object' || params === null) {
      return fail(RPC_ERRORS.invalidRequest, 'Invalid request: params must be an object or an array');
    }
    const notification = !hasId;
    if (this.log.isLevelEnabled('debug')) this.log.debug({ method, params: redactSecrets(params) }, 'rpc params');
    if (!this.isReady())
      return notification ? { response: null, method } : fail(VDSM_ERRORS.recovery.code, VDSM_ERRORS.recovery.message);
    if (!this.server.hasMethod(method)) {
      if (notification) return { response: null, method };
      return fail(RPC_ERRORS.methodNotFound, `The method does not exist or is not available: {'method': '${method}'}`);
    }
    return this.server
      .receive({ jsonrpc: '2.0', method, params, ...(hasId ? { id } : {}) }, ctx)
      .then((response) => ({ response: Array.isArray(response) ? null : response, method }));
  }
}

function errorResponse(id: JSONRPCID, code: number, message: string): JSONRPCErrorResponse {
  return createJSONRPCErrorResponse(id, code, message);
}
