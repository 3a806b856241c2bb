import { describe, expect, it } from 'vitest';
import { RawStomp, rawCall } from './support/raw-stomp.js';
import { useTlsVdsmd } from './support/vdsmd-process.js';

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
