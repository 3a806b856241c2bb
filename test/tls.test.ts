import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { listen } from '../src/rpc/server.js';
import { StompBroker } from '../src/rpc/stomp/broker.js';
import { captureLog } from './support/capture-log.js';
import { RawStomp, rawCall } from './support/raw-stomp.js';
import { useTlsVdsmd } from './support/vdsmd-process.js';
import { waitFor } from './support/wait.js';

const ctx = useTlsVdsmd();
const ping = { jsonrpc: '2.0', id: 't', method: 'Host.ping2', params: {} };

/** Tries a CONNECT with the given TLS options; returns whether a CONNECTED came back. */
async function tryConnect(options: Record<string, unknown>): Promise<boolean> {
  let c: RawStomp;
  try {
    c = await RawStomp.connect(ctx.vdsmd.port, options);
  } catch {
    return false;
  }
  c.send('CONNECT', { 'accept-version': '1.2' });
  const ok = await c.until(() => c.frames.some((f) => f.command === 'CONNECTED'), 3000);
  c.close();
  return ok;
}

describe('mutual TLS', () => {
  it('serves a client with a certificate from our CA', async () => {
    expect(await rawCall(ctx.vdsmd.port, ping, ctx.tls('engine'))).toMatchObject({ result: true });
  });

  it('refuses a client without a certificate', async () => {
    expect(await tryConnect({ ca: ctx.tls('engine').ca })).toBe(false);
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    expect(await tryConnect({ ...ctx.tls('stranger'), ca: ctx.tls('engine').ca })).toBe(false);
  });

  it('refuses plaintext STOMP on the TLS port', async () => {
    expect(await tryConnect(undefined as never)).toBe(false);
  });

  it('logs the refusals and keeps serving', async () => {
    expect(ctx.vdsmd.alive()).toBe(true);
    expect(await ctx.vdsmd.waitForOutput(/TLS handshake refused/)).toMatch(/TLS handshake refused/);
    expect(await rawCall(ctx.vdsmd.port, ping, ctx.tls('vdsm'))).toMatchObject({ result: true });
  });
});

interface ClientView {
  localPort: number;
  secure: boolean;
  error?: NodeJS.ErrnoException;
  data: string;
}

/** One handshake against an in-process TLS listener: what the client saw, and the server's refusal lines. */
async function refusedHandshake(client: tls.ConnectionOptions) {
  const { log, lines } = captureLog();
  const broker = new StompBroker({ log, onRequest: async () => null });
  const server = { key: readFileSync(ctx.pki.file('vdsm-key.pem')), cert: readFileSync(ctx.pki.file('vdsm.pem')), ca: readFileSync(ctx.pki.file('ca.pem')) };
  const listener = await listen({ host: '127.0.0.1', port: 0, broker, log, tls: server });
  const refusals = () => lines().filter((l) => l.msg === 'TLS handshake refused');
  try {
    const seen = await new Promise<ClientView>((resolve) => {
      const view: ClientView = { localPort: 0, secure: false, data: '' };
      const c = tls.connect({ host: '127.0.0.1', port: listener.address.port, servername: 'localhost', ca: server.ca, ...client });
      c.on('connect', () => (view.localPort = c.localPort!));
      c.on('secureConnect', () => {
        view.secure = true;
        c.write('CONNECT\naccept-version:1.2\n\n\0');
      });
      c.on('data', (d: Buffer) => (view.data += d.toString()));
      c.on('error', (err) => (view.error = err));
      c.on('close', () => resolve(view));
    });
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
    expect(client).toMatchObject({ secure: false, data: '', error: { code: 'ECONNRESET', message: expect.stringMatching(/before secure TLS connection was established/) } });
    expect(lines()).toEqual([expect.objectContaining({ peer: `127.0.0.1:${client.localPort}`, reason: expect.stringMatching(/^UNABLE_TO_VERIFY_LEAF_SIGNATURE: /) })]);
  });

  it('from a foreign CA over TLS 1.3: the client is closed on before any byte of STOMP; one line with peer and reason', async () => {
    // TLS 1.3 clients finish their side of the handshake before sending their certificate; Node decides afterwards.
    const { client, lines } = await refusedHandshake({ ...stranger(), maxVersion: 'TLSv1.3', minVersion: 'TLSv1.3' });
    expect(client).toMatchObject({ data: '' });
    expect(lines()).toEqual([expect.objectContaining({ peer: `127.0.0.1:${client.localPort}`, reason: expect.stringMatching(/^UNABLE_TO_VERIFY_LEAF_SIGNATURE: /) })]);
  });

  it('without a certificate: the client gets the certificate-required alert; one line with peer and reason', async () => {
    const { client, lines } = await refusedHandshake({ minVersion: 'TLSv1.3' });
    expect(client.error).toMatchObject({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', message: expect.stringMatching(/alert certificate required/) });
    expect(lines()).toEqual([
      expect.objectContaining({ peer: `127.0.0.1:${client.localPort}`, reason: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: peer did not return a certificate' }),
    ]);
  });
});
