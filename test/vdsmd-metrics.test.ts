/**
 * vdsmd's /metrics and /health on its management port (docs/metrics.md), against the built vdsmd as a process:
 * plaintext on the embedded default, mutual TLS as in production, and a libvirt it cannot reach.
 */
import https from 'node:https';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpOf, sampleValue } from './support/prom-text.js';
import { rawCall } from './support/raw-stomp.js';
import { makePki, type Pki, startVdsmdProcess, useVdsmd, type VdsmdProcess } from './support/vdsmd-process.js';
import { readFileSync } from 'node:fs';

const ctx = useVdsmd();
const ping = { jsonrpc: '2.0', id: 'p', method: 'Host.ping2', params: {} };
const NO_VM = '00000000-0000-4000-8000-000000000000';

const get = async (port: number, path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init);

/**
 * Writes `bytes` on a fresh connection and collects what comes back until the server closes it, or until
 * `until(received)` holds (then the connection is left open and reported so), bounded by `timeoutMs`.
 */
function exchange(
  port: number,
  bytes: string | Buffer,
  options: { until?: (received: string) => boolean; timeoutMs?: number } = {},
): Promise<{ received: string; closedByServer: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let received = '';
    const c = net.connect({ host: '127.0.0.1', port }, () => c.write(bytes));
    const finish = (closedByServer: boolean) => {
      clearTimeout(timer);
      c.destroy();
      resolve({ received, closedByServer, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 5000);
    c.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (options.until?.(received)) finish(false);
    });
    c.on('error', () => {});
    c.on('close', () => finish(true));
  });
}

const responses = (text: string) => text.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];

describe('vdsmd /metrics and /health, plaintext', () => {
  it('counts JSON-RPC requests by method and result code, with a duration histogram', async () => {
    const port = ctx.vdsmd.port;
    expect(await rawCall(port, ping)).toMatchObject({ result: true });
    expect(await rawCall(port, ping)).toMatchObject({ result: true });
    const missing = await rawCall(port, { jsonrpc: '2.0', id: 'e', method: 'VM.getStats', params: { vmID: NO_VM } });
    expect(missing.error.code).toBe(1);
    const unknown = await rawCall(port, { jsonrpc: '2.0', id: 'u', method: 'Frob.nicate', params: {} });
    expect(unknown.error.code).toBe(-32601);

    const res = await get(port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(sampleValue(text, 'vdsm_rpc_requests_total', { method: 'Host.ping2', code: '0' })).toBeGreaterThanOrEqual(2);
    expect(sampleValue(text, 'vdsm_rpc_requests_total', { method: 'VM.getStats', code: '1' })).toBe(1);
    expect(sampleValue(text, 'vdsm_rpc_requests_total', { method: 'unknown', code: '-32601' })).toBe(1);
    expect(text).not.toContain('Frob.nicate');
    expect(sampleValue(text, 'vdsm_rpc_request_duration_seconds_count', { method: 'VM.getStats' })).toBe(1);
    expect(sampleValue(text, 'vdsm_rpc_request_duration_seconds_bucket', { method: 'VM.getStats', le: '+Inf' })).toBe(
      1,
    );
    // libvirt's test driver starts with one running domain, which vdsmd recovered.
    expect(sampleValue(text, 'vdsm_vms', { status: 'Up' })).toBe(1);
    expect(sampleValue(text, 'vdsm_vms', { status: 'Down' })).toBe(0);
    expect(sampleValue(text, 'vdsm_libvirt_connected')).toBe(1);
    expect(text).toMatch(/^vdsm_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
    expect(sampleValue(text, 'vdsm_connections_accepted_total', { protocol: 'stomp' })).toBeGreaterThanOrEqual(4);
    expect(sampleValue(text, 'vdsm_connections_accepted_total', { protocol: 'http' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'vdsm_connections', { protocol: 'http' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    for (const name of ['vdsm_rpc_requests_total', 'vdsm_vms', 'vdsm_libvirt_connected', 'vdsm_fence_actions_total'])
      expect(helpOf(text, name), name).toBeTruthy();
  });

  it('/health answers 200 ok while libvirt is connected', async () => {
    const res = await get(ctx.vdsmd.port, '/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', checks: { libvirt: 'ok' } });
  });

  it('answers other paths 404, other methods 405 with Allow, and HEAD without a body', async () => {
    const port = ctx.vdsmd.port;
    expect((await get(port, '/')).status).toBe(404);
    expect((await get(port, '/metrics/x')).status).toBe(404);
    const post = await get(port, '/metrics', { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await get(port, '/health', { method: 'DELETE' })).status).toBe(405);
    const head = await exchange(port, 'HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(head.received).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n$/);
    expect(head.received).toMatch(/Content-Length: \d+/);
  });

  it('keeps a connection alive across requests', async () => {
    const request = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    const seen = await exchange(ctx.vdsmd.port, request + request + request, {
      until: (r) => responses(r).length === 3 && r.endsWith('}\n'),
    });
    expect(responses(seen.received)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200']);
    expect(seen.closedByServer).toBe(false);
  });

  it('answers a malformed request 400 and a huge header 431, and STOMP on the same port goes on', async () => {
    const port = ctx.vdsmd.port;
    const garbage = await exchange(port, 'GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n');
    expect(garbage.received).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage.closedByServer).toBe(true);
    const huge = await exchange(port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    expect(huge.received).toMatch(/^HTTP\/1\.1 431 /);
    const version = await exchange(port, 'GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n');
    expect(version.received).toMatch(/^HTTP\/1\.1 (400|505) /);
    expect(ctx.vdsmd.alive()).toBe(true);
    expect(await rawCall(port, ping)).toMatchObject({ result: true });
    expect((await get(port, '/health')).status).toBe(200);
  });

  it('drops a client that never finishes its request (bounded by the 10 s request timeout)', async () => {
    const slow = await exchange(ctx.vdsmd.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n', { timeoutMs: 25_000 });
    expect(slow.closedByServer).toBe(true);
    expect(slow.received).toMatch(/^(HTTP\/1\.1 408 |$)/);
  }, 30_000);
});

describe('vdsmd /health when libvirt cannot be reached', () => {
  let vdsmd: VdsmdProcess;
  beforeAll(async () => {
    vdsmd = await startVdsmdProcess({
      env: { VDSM_LIBVIRT_URI: 'qemu+unix:///system?socket=/nonexistent/libvirt-sock' },
      readyLine: 'vdsmd listening; recovering',
    });
  });
  afterAll(async () => {
    await vdsmd?.stop();
  });

  it('answers 503 degraded, and the metrics say libvirt is not connected', async () => {
    const res = await get(vdsmd.port, '/health');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'degraded', checks: { libvirt: 'disconnected' } });
    const text = await (await get(vdsmd.port, '/metrics')).text();
    expect(sampleValue(text, 'vdsm_libvirt_connected')).toBe(0);
    expect(sampleValue(text, 'vdsm_vms', { status: 'Up' })).toBe(0);
  });
});

describe('vdsmd /metrics under mutual TLS', () => {
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

  const identity = (name: string) => ({
    key: readFileSync(pki.file(`${name}-key.pem`)),
    cert: readFileSync(pki.file(`${name}.pem`)),
  });

  /** GET over HTTPS: the status, or the error the client saw. */
  function httpsGet(path: string, client: { key?: Buffer; cert?: Buffer }): Promise<number | NodeJS.ErrnoException> {
    return new Promise((resolve) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port: vdsmd.port,
          path,
          servername: 'localhost',
          ca: readFileSync(pki.file('ca.pem')),
          agent: false,
          timeout: 10_000,
          ...client,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
      req.on('error', resolve);
    });
  }

  it('serves a client with a certificate from our CA', async () => {
    expect(await httpsGet('/metrics', identity('engine'))).toBe(200);
    expect(await httpsGet('/health', identity('engine'))).toBe(200);
  });

  it('refuses a client without a certificate, one from another CA, and plaintext HTTP', async () => {
    expect(await httpsGet('/metrics', {})).toBeInstanceOf(Error);
    expect(await httpsGet('/metrics', identity('stranger'))).toBeInstanceOf(Error);
    const plain = await exchange(vdsmd.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(plain.received).not.toMatch(/^HTTP\/1\.1 200/);
    expect(plain.closedByServer).toBe(true);
    expect(
      await rawCall(vdsmd.port, ping, { ...identity('engine'), ca: readFileSync(pki.file('ca.pem')) }),
    ).toMatchObject({ result: true });
  });
});
