/**
 * The coordinator's HTTP server: node:http and the route catalogue, nothing more. A framework (Fastify, Express)
 * would bring routing and schema validation, but we have about fifteen routes, validate with zod already (the
 * same schemas document the routes), and need one streaming route: the core below is smaller than the glue a
 * framework would need. Every failure of one request is answered (400 bad input, 404 unknown route, 405, 413,
 * 409/503 from the store, 500 for our bugs) and never stops the server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { CoordinatorLog } from '../core/env.js';
import { ApiError } from './api.js';
import { ROUTES } from './catalogue.js';
import { describeIssues } from './issues.js';
import type { JsonRoute, Route, RouteDeps, StreamRoute, TextRoute } from './route.js';
import type { ErrorBody } from './schemas.js';

/** The API's port unless configured: vdsmd's 54321 and ovirt-imageio's 54322/54323 are taken on a host. */
export const DEFAULT_API_PORT = 54380;
export const DEFAULT_API_HOST = '127.0.0.1';
/** A domain XML is the largest body (512 KiB at most); JSON escaping can double it. */
const BODY_LIMIT = 1024 * 1024;
const DRAIN_LIMIT = 8 * BODY_LIMIT;

export interface ApiServerOptions {
  /** Address to listen on (default 127.0.0.1: only this machine). */
  host?: string;
  /** 0 picks a free port (default 54380). */
  port?: number;
  routes?: readonly Route[];
  log: CoordinatorLog;
}

export interface ApiServer {
  readonly host: string;
  readonly port: number;
  /** Stops listening, ends the event streams and closes every connection. */
  close(): Promise<void>;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

const fail = (status: number, error: ErrorBody['error'], message: string, headers?: Record<string, string>) =>
  new HttpFailure(status, { error, message }, headers);

interface CompiledRoute {
  route: Route;
  /** Literal segments, or `:name` for a param. */
  segments: string[];
}

function compile(routes: readonly Route[]): CompiledRoute[] {
  return routes.map((route) => ({ route, segments: route.path.split('/').slice(1) }));
}

function matchPath(c: CompiledRoute, parts: string[]): Record<string, string> | null {
  if (c.segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (const [i, seg] of c.segments.entries()) {
    const part = parts[i]!;
    if (seg.startsWith(':')) params[seg.slice(1)] = part;
    else if (seg !== part) return null;
  }
  return params;
}

function pathParts(pathname: string): string[] {
  const trimmed = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  try {
    return trimmed.split('/').slice(1).map(decodeURIComponent);
  } catch {
    throw fail(400, 'bad-request', 'the path is not valid percent-encoding');
  }
}

function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw fail(400, 'bad-request', describeIssues(r.error, where));
  return r.data;
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const tooLarge = () => fail(413, 'too-large', `the body is larger than ${BODY_LIMIT} bytes`);
  // A body somewhat too large is read to its end and dropped, so that the client reads our 413 instead of a reset;
  // one far too large ends the connection.
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > DRAIN_LIMIT) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > DRAIN_LIMIT) throw tooLarge();
    if (size <= BODY_LIMIT) chunks.push(chunk);
  }
  if (size > BODY_LIMIT) throw tooLarge();
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not the parser's message: V8 quotes the text it could not read, which may be a secret sent by mistake.
    throw fail(400, 'bad-request', 'the body is not JSON');
  }
}

function send(res: http.ServerResponse, status: number, body: string, contentType: string, extra = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

/** Resolves when `res` takes writes again, or when the stream is stopped. */
function drained(res: http.ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

const sendJson = (res: http.ServerResponse, status: number, value: unknown, extra = {}) =>
  send(res, status, `${JSON.stringify(value)}\n`, 'application/json; charset=utf-8', extra);

export async function startApiServer(deps: RouteDeps, opts: ApiServerOptions): Promise<ApiServer> {
  const { log } = opts;
  const routes = compile(opts.routes ?? ROUTES);
  const streams = new Set<AbortController>();

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://coordinator');
    const parts = pathParts(url.pathname);
    const onPath = routes.flatMap((c) => {
      const params = matchPath(c, parts);
      return params ? [{ c, params }] : [];
    });
    if (onPath.length === 0) throw fail(404, 'not-found', `no route ${req.method ?? ''} ${url.pathname}`);
    const hit = onPath.find(({ c }) => c.route.method === req.method);
    if (!hit) {
      const allow = onPath.map(({ c }) => c.route.method).join(', ');
      throw fail(405, 'method-not-allowed', `${url.pathname} takes ${allow}, not ${req.method ?? ''}`, { allow });
    }
    const { route } = hit.c;
    const input = {
      params: validate(route.params, hit.params, 'path'),
      query: validate(route.query, Object.fromEntries(url.searchParams), 'query'),
      body: route.body === null ? undefined : validate(route.body, await readBody(req), 'body'),
    };
    switch (route.produces) {
      case 'json':
        return answerJson(route, input, res);
      case 'text':
        return answerText(route, input, res);
      case 'ndjson':
        return answerStream(route, input, res);
    }
  }

  async function answerJson(route: JsonRoute, input: Parameters<JsonRoute['handler']>[0], res: http.ServerResponse) {
    const answer = route.response.safeParse(await route.handler(input, deps));
    if (!answer.success) {
      log.warn({ route: route.path, issues: describeIssues(answer.error, 'answer') }, 'api answer does not fit');
      throw fail(500, 'internal', `the coordinator's answer to ${route.path} does not fit its schema`);
    }
    sendJson(res, route.statusOf?.(answer.data) ?? route.status ?? 200, answer.data);
  }

  async function answerText(route: TextRoute, input: Parameters<TextRoute['handler']>[0], res: http.ServerResponse) {
    const { contentType, text } = await route.handler(input, deps);
    send(res, 200, text, contentType);
  }

  async function answerStream(
    route: StreamRoute,
    input: Parameters<StreamRoute['handler']>[0],
    res: http.ServerResponse,
  ) {
    const stop = new AbortController();
    streams.add(stop);
    const end = () => stop.abort();
    res.once('close', end);
    try {
      // A refusal (ApiError) thrown by the handler itself, before it returns the lines, is answered as usual.
      const lines = route.handler(input, deps, stop.signal);
      // Headers go out at once: the client knows the stream is open before the first event.
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
      res.flushHeaders();
      for await (const line of lines) {
        if (stop.signal.aborted) break;
        const parsed = route.response.safeParse(line);
        if (!parsed.success) {
          log.warn({ route: route.path, issues: describeIssues(parsed.error, 'line') }, 'api stream line does not fit');
          break;
        }
        if (!res.write(`${JSON.stringify(parsed.data)}\n`)) await drained(res, stop.signal);
      }
    } catch (err) {
      if (!res.headersSent) throw err;
      log.warn({ route: route.path, err: String(err) }, 'api stream ended by an error');
    } finally {
      streams.delete(stop);
      res.off('close', end);
      stop.abort();
      if (!res.writableEnded) res.end();
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const failure =
        err instanceof HttpFailure
          ? err
          : err instanceof ApiError
            ? new HttpFailure(err.httpStatus, { error: err.kind, message: err.message })
            : null;
      if (failure === null) log.warn({ method: req.method, url: req.url, err: String(err) }, 'api request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const f = failure ?? fail(500, 'internal', "internal error (the coordinator's log has the details)");
      // Unread bodies (a 404 or 413 before the body was read) must not be taken for the next request.
      sendJson(res, f.status, f.body, { ...f.headers, ...(req.complete ? {} : { connection: 'close' }) });
    });
  });
  const host = opts.host ?? DEFAULT_API_HOST;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_API_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    host,
    port,
    close: async () => {
      for (const s of streams) s.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
