/**
 * A small read-only HTTP server for /metrics and /health (docs/metrics.md): GET and HEAD on known paths only,
 * bounded in time and size so that a slow, idle or hostile client cannot hold it. It never listens by itself:
 * vdsmd's listener hands it the connections that speak HTTP (after TLS), the HA broker listens with it on its own
 * address.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** One path's answer; it must be cheap and never wait on anything that can hang. */
export type HttpRoute = () => HttpAnswer | Promise<HttpAnswer>;

export interface HttpEndpointOptions {
  routes: Record<string, HttpRoute>;
  log: Logger;
  /** Whole request (headers and body) within this many ms; default 10 s. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this many ms; default 5 s. */
  keepAliveTimeoutMs?: number;
}

const ALLOW = 'GET, HEAD';
/** Headers beyond this many bytes are answered 431: none of our routes reads one. */
const MAX_HEADER_BYTES = 8 * 1024;

const CLIENT_ERROR_STATUS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/** A JSON answer (health checks). */
export function jsonAnswer(status: number, value: unknown): HttpAnswer {
  return { status, contentType: 'application/json', body: JSON.stringify(value) + '\n' };
}

/** An error answer; the connection closes after it (as vdsm's port did for any HTTP): only scrapers stay. */
function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res
    .writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', ...headers })
    .end(text + '\n');
}

export function createHttpEndpoints(options: HttpEndpointOptions): http.Server {
  const { routes, log } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const server = http.createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      // The timeouts above are checked this often (Node's default is 30 s).
      connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs),
    },
    (req, res) => void serve(req, res),
  );
  // Node checks headersTimeout and requestTimeout from the moment a server listens; vdsmd's never does (its
  // listener hands it connections), so the checks are started here. Listening later starts them once more, harmlessly.
  server.emit('listening');
  // A connection that stops reading our answer (or sends nothing at all between requests) is dropped.
  server.setTimeout(requestTimeoutMs * 3, (socket: Socket) => socket.destroy());
  server.maxRequestsPerSocket = 1000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    log.info({ remote: socket.remoteAddress, err: err.code ?? err.message }, 'bad HTTP request');
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, () => socket.destroy());
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) return plain(res, 404, 'Not Found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Method Not Allowed', { Allow: ALLOW });
    // A GET with a body is not ours to read; drain it so keep-alive goes on.
    req.resume();
    let answer: HttpAnswer;
    try {
      answer = await route();
    } catch (err) {
      log.error({ err, path }, 'HTTP route failed');
      return plain(res, 500, 'Internal Server Error');
    }
    res.writeHead(answer.status, {
      'Content-Type': answer.contentType,
      'Content-Length': Buffer.byteLength(answer.body),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  }

  return server;
}
