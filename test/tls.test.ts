import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawStomp, rawCall } from './support/raw-stomp.js';
import { makePki, type Pki, startVdsmdProcess, type VdsmdProcess } from './support/vdsmd-process.js';

let pki: Pki;
let vdsmd: VdsmdProcess;

beforeAll(async () => {
  pki = makePki();
  vdsmd = await startVdsmdProcess({ pki });
});

afterAll(async () => {
  await vdsmd?.stop();
  pki?.cleanup();
});

const read = (name: string) => readFileSync(pki.file(name));
const ping = { jsonrpc: '2.0', id: 't', method: 'Host.ping2', params: {} };

/** Tries a CONNECT with the given TLS options; returns whether a CONNECTED came back. */
async function tryConnect(options: Record<string, unknown>): Promise<boolean> {
  let c: RawStomp;
  try {
    c = await RawStomp.connect(vdsmd.port, options);
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
    expect(await rawCall(vdsmd.port, ping, { key: read('engine-key.pem'), cert: read('engine.pem'), ca: read('ca.pem') })).toMatchObject({ result: true });
  });

  it('refuses a client without a certificate', async () => {
    expect(await tryConnect({ ca: read('ca.pem') })).toBe(false);
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    expect(await tryConnect({ key: read('stranger-key.pem'), cert: read('stranger.pem'), ca: read('ca.pem') })).toBe(false);
  });

  it('refuses plaintext STOMP on the TLS port', async () => {
    expect(await tryConnect(undefined as never)).toBe(false);
  });

  it('logs the refusals and keeps serving', async () => {
    expect(vdsmd.alive()).toBe(true);
    expect(await vdsmd.waitForOutput(/TLS handshake refused/)).toMatch(/TLS handshake refused/);
    expect(await rawCall(vdsmd.port, ping, { key: read('vdsm-key.pem'), cert: read('vdsm.pem'), ca: read('ca.pem') })).toMatchObject({ result: true });
  });
});
