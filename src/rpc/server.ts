import type http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { detectProtocol } from './detect.js';
import type { WireProtocol } from './metrics.js';
import type { StompBroker } from './stomp/broker.js';

export interface TlsFiles {
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
}

export interface ListenOptions {
  host: string;
  port: number;
  /** Mutual TLS: clients must present a certificate signed by `ca`. Omit for plaintext. */
  tls?: TlsFiles;
  broker: StompBroker;
  log: Logger;
  /** Time allowed for the TLS handshake and for the first bytes to arrive (vdsm: 10 s each). */
  handshakeTimeoutMs?: number;
  /** Serves the connections that speak HTTP (/metrics, /health: src/rpc/http.ts); without it they get a 404. */
  http?: http.Server;
  /** Told of every connection handed to a protocol, and of its end (WireMetrics fits). */
  connections?: { connectionOpened(protocol: WireProtocol): void; connectionClosed(protocol: WireProtocol): void };
}

export interface Listener {
  address: AddressInfo;
  close(): Promise<void>;
}

/** ip:port, an IPv6 address in brackets. */
function peerOf(socket: Socket): string {
  return net.isIPv6(socket.remoteAddress ?? '')
    ? `[${socket.remoteAddress}]:${socket.remotePort}`
    : `${socket.remoteAddress}:${socket.remotePort}`;
}

const HTTP_NOT_FOUND = 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

/** Opens vdsmd's one port: TLS (when configured), then protocol detection, then STOMP. */
export async function listen(options: ListenOptions): Promise<Listener> {
  const { broker, log } = options;
  const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const sockets = new Set<Socket>();

  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.on('error', (err) => log.debug({ err: err.message }, 'socket error'));
    void detectProtocol(socket, timeoutMs).then(({ protocol, head }) => {
      if ((protocol === 'stomp' || protocol === 'http') && options.connections && !socket.destroyed) {
        const observer = options.connections;
        observer.connectionOpened(protocol);
        socket.once('close', () => observer.connectionClosed(protocol));
      }
      if (protocol === 'stomp') {
        broker.attach(socket, head);
        return;
      }
      if (protocol === 'http' && options.http) {
        // Node's HTTP server takes an open socket as if it had accepted it, the bytes detection read first.
        socket.unshift(head);
        options.http.emit('connection', socket);
        socket.resume();
      } else if (protocol === 'http') {
        socket.end(HTTP_NOT_FOUND);
      } else {
        if (protocol !== 'closed')
          log.info({ remote: socket.remoteAddress, protocol }, 'unrecognized protocol; closing');
        socket.destroy();
      }
    });
  };

  let server: net.Server;
  if (options.tls) {
    server = tls.createServer(
      {
        key: options.tls.key,
        cert: options.tls.cert,
        ca: options.tls.ca,
        requestCert: true,
        rejectUnauthorized: true,
        handshakeTimeout: timeoutMs,
        minVersion: 'TLSv1.2',
      },
      onSocket,
    );
    // Node checks the client certificate only after the handshake and, when it fails, drops the connection before
    // telling us: the error then says just "socket hang up" (the verdict is in authorizationError) and the TLS
    // socket no longer knows its peer, so the peer is noted when the TCP connection comes in.
    const peers = new WeakMap<Socket, string>();
    server.on('connection', (raw: Socket) => peers.set(raw, peerOf(raw)));
    server.on('tlsClientError', (err: Error & { code?: string; reason?: string }, socket: TLSSocket) => {
      const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
      const verdict = socket.authorizationError as unknown as string | null;
      const reason = verdict
        ? `${verdict}: client certificate failed verification against ssl_ca`
        : `${err.code ?? 'error'}: ${err.reason ?? err.message}`;
      log.info({ peer: (raw && peers.get(raw)) ?? peerOf(socket), reason }, 'TLS handshake refused');
    });
  } else {
    server = net.createServer({ noDelay: true }, onSocket);
  }
  server.on('error', (err) => log.error({ err }, 'listener error'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, backlog: 511 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  log.info({ host: address.address, port: address.port, tls: Boolean(options.tls) }, 'listening');

  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        broker.closeAll();
        options.http?.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }),
  };
}
