import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { listen } from '../src/rpc/server.js';
import { StompBroker } from '../src/rpc/stomp/broker.js';
import { captureLog } from './support/capture-log.js';
import { rawCall } from './support/raw-stomp.js';
import { useTlsVdsmd } from './support/vdsmd-process.js';
import { waitFor } from './support/wait.js';

const ctx = useTlsVdsmd();
const ping = { jsonrpc: '2.0', id: 't', method: 'Host.ping2', params: {} };

/** What one client saw of a connection: TCP connected (its local port), TLS established, bytes, error. */
interface ClientView {
  localPort: number;
  secure: boolean;
  error?: NodeJS.ErrnoException;
  data: string;
}

/**
 * Connects (TLS with `options`, plaintext without), sends a STOMP CONNECT as soon as it can, and collects what
 * came back until the server closes (bounded: 10 s, then the socket is destroyed and the view says so).
 */
function handshake(port: number, options?: tls.ConnectionOptions): Promise<ClientView> {
  return new Promise((resolve) => {
    const view: ClientView = { localPort: 0, secure: false, data: '' };
    const c: net.Socket = options
      ? tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options })
      : net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(
      () => c.destroy(new Error('the server neither served nor closed the connection in 10 s')),
      10_000,
    );
    c.on('connect', () => {
      view.localPort = c.localPort!;
      if (!options) c.write('CONNECT\naccept-version:1.2\n\n\0');
    });
    c.on('secureConnect', () => {
      view.secure = true;
      c.write('CONNECT\naccept-version:1.2\n\n\0');
    });
    c.on('data', (d: Buffer) => (view.data += d.toString()));
    c.on('error', (err) => (view.error ??= err));
    c.on('close', () => {
      clearTimeout(timer);
      resolve(view);
    });
  });
}

/** vdsmd's "TLS handshake refused" lines about one client connection (matched by its local port). */
function refusalLinesOf(output: string, localPort: number): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.includes('"msg":"TLS handshake refused"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.peer === `127.0.0.1:${localPort}`);
}

/** A refused client: it reached the listener (TCP), never got a STOMP byte, and saw an error or a close. */
async function refusedByVdsmd(options?: tls.ConnectionOptions): Promise<ClientView> {
  const seen = await handshake(ctx.vdsmd.port, options && { ca: ctx.tls('engine').ca, ...options });
  expect(seen.localPort, 'the TCP connection to vdsmd was made').toBeGreaterThan(0);
  expect(seen.data).toBe('');
  await ctx.vdsmd.waitForOutput(
    new RegExp(`"peer":"127\\.0\\.0\\.1:${seen.localPort}"[^\\n]*"msg":"TLS handshake refused"`),
    10_000,
  );
  refused.push(seen.localPort);
  return seen;
}
const refused: number[] = [];

describe('mutual TLS', () => {
  it('serves a client with a certificate from our CA', async () => {
    expect(await rawCall(ctx.vdsmd.port, ping, ctx.tls('engine'))).toMatchObject({ result: true });
  });

  it('refuses a client without a certificate: it gets the certificate-required alert', async () => {
    const seen = await refusedByVdsmd({ minVersion: 'TLSv1.3' });
    expect(seen.error).toMatchObject({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
    expect(refusalLinesOf(ctx.vdsmd.output(), seen.localPort)).toEqual([
      expect.objectContaining({
        reason: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: peer did not return a certificate',
      }),
    ]);
  });

  it('refuses a client whose certificate comes from another CA: reset before the handshake completes (TLS 1.2)', async () => {
    const seen = await refusedByVdsmd({ ...ctx.tls('stranger'), ca: ctx.tls('engine').ca, maxVersion: 'TLSv1.2' });
    expect(seen).toMatchObject({
      secure: false,
      error: { code: 'ECONNRESET', message: expect.stringMatching(/before secure TLS connection was established/) },
    });
    expect(refusalLinesOf(ctx.vdsmd.output(), seen.localPort)).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(/^UNABLE_TO_VERIFY_LEAF_SIGNATURE: /) }),
    ]);
  });

  it('refuses plaintext STOMP on the TLS port: closed without an answer', async () => {
    const seen = await refusedByVdsmd();
    expect(seen.secure).toBe(false);
    expect(refusalLinesOf(ctx.vdsmd.output(), seen.localPort)).toEqual([
      expect.objectContaining({ reason: expect.stringMatching(/^ERR_SSL_HTTPS_PROXY_REQUEST: /) }),
    ]);
  });

  it('logs exactly one line per refusal and keeps serving', async () => {
    expect(refused).toHaveLength(3);
    // Log lines go out in order: once a later refusal's line is out, any duplicate of an earlier one would be too.
    await refusedByVdsmd({ minVersion: 'TLSv1.3' });
    for (const port of refused) expect(refusalLinesOf(ctx.vdsmd.output(), port), `client port ${port}`).toHaveLength(1);
    expect(ctx.vdsmd.alive()).toBe(true);
    expect(await rawCall(ctx.vdsmd.port, ping, ctx.tls('vdsm'))).toMatchObject({ result: true });
  });
});

/** One handshake against an in-process TLS listener: what the client saw, and the server's refusal lines. */
async function refusedHandshake(client: tls.ConnectionOptions) {
  const { log, lines } = captureLog();
  const broker = new StompBroker({ log, onRequest: async () => null });
  const server = {
    key: readFileSync(ctx.pki.file('vdsm-key.pem')),
    cert: readFileSync(ctx.pki.file('vdsm.pem')),
    ca: readFileSync(ctx.pki.file('ca.pem')),
  };
  const listener = await listen({ host: '127.0.0.1', port: 0, broker, log, tls: server });
  const refusals = () => lines().filter((l) => l.msg === 'TLS handshake refused');
  try {
    const seen = await handshake(listener.address.port, { ca: server.ca, ...client });
    await waitFor('the refusal log line', async () => (refusals().length > 0 ? true : undefined), 5000, 20);
    return { client: seen, lines: refusals };
  } finally {
    await listener.close();
  }
}

describe('a refused TLS handshake', () => {
  const stranger = () => ({ key: ctx.tls('stranger').key, cert: ctx.tls('stranger').cert });

  it('from a foreign CA over TLS 1.2: the client gets an error before the handshake completes; one line with peer and reason', async () => {
    const { client, lines } = await refusedHandshake({ ...stranger(), maxVersion: 'TLSv1.2' });
    expect(client).toMatchObject({
      secure: false,
      data: '',
      error: { code: 'ECONNRESET', message: expect.stringMatching(/before secure TLS connection was established/) },
    });
    expect(lines()).toEqual([
      expect.objectContaining({
        peer: `127.0.0.1:${client.localPort}`,
        reason: expect.stringMatching(/^UNABLE_TO_VERIFY_LEAF_SIGNATURE: /),
      }),
    ]);
  });

  it('from a foreign CA over TLS 1.3: the client is closed on before any byte of STOMP; one line with peer and reason', async () => {
    // TLS 1.3 clients finish their side of the handshake before sending their certificate; Node decides afterwards.
    const { client, lines } = await refusedHandshake({ ...stranger(), maxVersion: 'TLSv1.3', minVersion: 'TLSv1.3' });
    expect(client).toMatchObject({ secure: true, data: '' });
    // Closed by the server at once; a reset when it closes with our CONNECT unread.
    expect([undefined, 'ECONNRESET']).toContain(client.error?.code);
    expect(lines()).toEqual([
      expect.objectContaining({
        peer: `127.0.0.1:${client.localPort}`,
        reason: expect.stringMatching(/^UNABLE_TO_VERIFY_LEAF_SIGNATURE: /),
      }),
    ]);
  });

  it('without a certificate: the client gets the certificate-required alert; one line with peer and reason', async () => {
    const { client, lines } = await refusedHandshake({ minVersion: 'TLSv1.3' });
    expect(client.error).toMatchObject({
      code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      message: expect.stringMatching(/alert certificate required/),
    });
    expect(lines()).toEqual([
      expect.objectContaining({
        peer: `127.0.0.1:${client.localPort}`,
        reason: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: peer did not return a certificate',
      }),
    ]);
  });
});
