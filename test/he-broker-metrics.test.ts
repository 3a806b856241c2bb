/** The HA broker's /metrics and /health on metrics_listen (docs/metrics.md), with the broker in process. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { brokerClient } from '../src/hosted-engine/broker/client.js';
import { startBroker } from '../src/hosted-engine/broker/server.js';
import { ConfError, confFrom } from '../src/hosted-engine/conf.js';
import { captureLog } from './support/capture-log.js';
import { helpOf, sampleValue } from './support/prom-text.js';
import { waitFor } from './support/wait.js';
import { hostBlock } from './support/he-block.js';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function confFor(dir: string, extra: [string, string][] = []) {
  return confFrom(
    new Map([
      ['host_id', '1'],
      ['vmid', '11111111-2222-3333-4444-555555555555'],
      ['vm_xml', join(dir, 'engine.xml')],
      ['metadata', join(dir, 'metadata')],
      ['lockspace', join(dir, 'lockspace')],
      ['lock', 'file'],
      ['network_test', 'none'],
      ['health_url', 'http://127.0.0.1:9/'],
      ['broker_socket', join(dir, 'broker.sock')],
      ['state_dir', join(dir, 'state')],
      ['monitor_interval', '60'],
      ...extra,
    ]),
  );
}

/** The metrics' clock in the tests that time transitions: set by the test, never the wall clock. */
let clockMs = 1_000_000;

/** A broker on host 1 whose vdsmd says the engine VM is not here (VM.getStats: no such VM, code 1). */
async function startMetricsBroker(
  metricsListen = '127.0.0.1:0',
  extra: [string, string][] = [],
  vdsmCode: () => number = () => 1,
) {
  const dir = mkdtempSync(join(tmpdir(), 'he-broker-metrics-'));
  dirs.push(dir);
  const conf = confFor(dir, [['metrics_listen', metricsListen], ...extra]);
  const vdsm = async () => Promise.reject(Object.assign(new Error('vdsmd says no'), { code: vdsmCode() }));
  const service = await startBroker(conf, { vdsm, log: captureLog().log, metricsClock: () => clockMs });
  closers.push(() => service.close());
  return { conf, service, broker: brokerClient(conf.brokerSocket), url: `http://127.0.0.1:${service.metrics?.port}` };
}

const block = hostBlock;

describe('metrics_listen in hosted-engine.conf', () => {
  it('is off unless set; takes host:port and [v6]:port; refuses anything else', () => {
    const dir = '/nonexistent';
    expect(confFor(dir).metricsListen).toBeUndefined();
    expect(confFor(dir, [['metrics_listen', 'off']]).metricsListen).toBeUndefined();
    expect(confFor(dir, [['metrics_listen', '127.0.0.1:54329']]).metricsListen).toEqual({
      host: '127.0.0.1',
      port: 54329,
    });
    expect(confFor(dir, [['metrics_listen', '[::1]:9']]).metricsListen).toEqual({ host: '::1', port: 9 });
    for (const bad of ['54329', '127.0.0.1', '127.0.0.1:99999', '::1:9'])
      expect(() => confFor(dir, [['metrics_listen', bad]]), bad).toThrow(ConfError);
  });

  it('without it the broker serves no HTTP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'he-broker-metrics-'));
    dirs.push(dir);
    const service = await startBroker(confFor(dir), {
      vdsm: () => Promise.reject(new Error('none')),
      log: captureLog().log,
    });
    closers.push(() => service.close());
    expect(service.metrics).toBeUndefined();
  });
});

describe('the broker on metrics_listen', () => {
  it('shows every host block, the agent judgement, the monitors and the engine VM state with its transition', async () => {
    clockMs = 1_000_000;
    const { broker, url } = await startMetricsBroker();
    await broker.call('putHost', { block: block({ score: 2400, state: 'EngineDown' }) });
    await broker.call('putHost', { block: block({ hostTs: 101, state: 'EngineStart' }) });
    await broker.call('pushAlive', { ids: [1] });
    // The engine-health monitor's first round (at start) finds no engine VM here: unknown -> down.
    const text = await waitFor(
      'the engine VM seen down',
      async () => {
        const t = await (await fetch(`${url}/metrics`)).text();
        return sampleValue(t, 'he_engine_vm_state', { state: 'down' }) === 1 && t;
      },
      10_000,
      100,
    );
    expect(sampleValue(text, 'he_whiteboard_read_ok')).toBe(1);
    expect(sampleValue(text, 'he_global_maintenance')).toBe(0);
    expect(sampleValue(text, 'he_host_score', { host_id: '1' })).toBe(3400);
    expect(sampleValue(text, 'he_host_state', { host_id: '1', state: 'EngineStart' })).toBe(1);
    expect(sampleValue(text, 'he_host_state', { host_id: '1', state: 'EngineDown' })).toBe(0);
    expect(sampleValue(text, 'he_host_alive', { host_id: '1' })).toBe(1);
    expect(sampleValue(text, 'he_host_maintenance', { host_id: '1' })).toBe(0);
    expect(sampleValue(text, 'he_host_stopped', { host_id: '1' })).toBe(0);
    expect(sampleValue(text, 'he_host_update_age_seconds', { host_id: '1' })).toBeGreaterThanOrEqual(0);
    expect(sampleValue(text, 'he_engine_vm_state', { state: 'unknown' })).toBe(0);
    // The metrics' clock stood still at 1000 s: the monitor's first round and the agent's publish both happened then.
    expect(sampleValue(text, 'he_engine_vm_last_transition_timestamp_seconds')).toBe(1000);
    expect(sampleValue(text, 'he_engine_vm_state_seconds')).toBe(0);
    expect(sampleValue(text, 'he_agent_state_last_transition_timestamp_seconds')).toBe(1000);
    // vdsmd gives no host stats here: those monitors have no reading; storage (the whiteboard file) answers.
    expect(sampleValue(text, 'he_monitor_status', { monitor: 'engine-health' })).toBe(1);
    expect(sampleValue(text, 'he_monitor_status', { monitor: 'mem-free' })).toBe(0);
    expect(sampleValue(text, 'he_monitor_mem_free_bytes')).toBeNaN();
    expect(sampleValue(text, 'he_monitor_storage_ok')).toBe(1);
    expect(helpOf(text, 'he_host_score')).toMatch(/score/);
    expect(sampleValue(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', checks: { storage: 'ok' } });
    expect((await fetch(`${url}/other`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it("times the engine VM's transitions: unknown while vdsmd fails, then down once it says the VM is not here", async () => {
    let code = 99;
    clockMs = 1_000_000;
    const { url } = await startMetricsBroker('127.0.0.1:0', [['monitor_interval', '0.2']], () => code);
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    expect(sampleValue(await scrape(), 'he_engine_vm_state', { state: 'unknown' })).toBe(1);
    clockMs = 2_000_000;
    code = 1;
    const text = await waitFor(
      'the engine VM seen down',
      async () => {
        const t = await scrape();
        return sampleValue(t, 'he_engine_vm_state', { state: 'down' }) === 1 && t;
      },
      10_000,
      100,
    );
    expect(sampleValue(text, 'he_engine_vm_state', { state: 'unknown' })).toBe(0);
    expect(sampleValue(text, 'he_engine_vm_last_transition_timestamp_seconds')).toBe(2000);
    clockMs = 2_030_000;
    expect(sampleValue(await scrape(), 'he_engine_vm_state_seconds')).toBe(30);
  });

  it('/health says 503 degraded once the shared storage is gone, and the scrape says the whiteboard was not read', async () => {
    const { conf, url } = await startMetricsBroker('127.0.0.1:0', [['monitor_interval', '0.2']]);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    rmSync(conf.metadata);
    const health = await waitFor(
      'health 503',
      async () => {
        const r = await fetch(`${url}/health`);
        return r.status === 503 && ((await r.json()) as unknown);
      },
      10_000,
      100,
    );
    expect(health).toEqual({ status: 'degraded', checks: { storage: 'failed' } });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(sampleValue(text, 'he_whiteboard_read_ok')).toBe(0);
    expect(sampleValue(text, 'he_monitor_storage_ok')).toBe(0);
  });

  it('a metrics address that is taken is logged and the broker serves on', async () => {
    const first = await startMetricsBroker();
    const dir = mkdtempSync(join(tmpdir(), 'he-broker-metrics-'));
    dirs.push(dir);
    const conf = confFor(dir, [['metrics_listen', `127.0.0.1:${first.service.metrics!.port}`]]);
    const cap = captureLog();
    const second = await startBroker(conf, { vdsm: () => Promise.reject(new Error('none')), log: cap.log });
    closers.push(() => second.close());
    expect(second.metrics).toBeUndefined();
    expect(cap.text()).toMatch(/"err":"EADDRINUSE"[^\n]*metrics_listen: cannot listen/);
    expect(await brokerClient(conf.brokerSocket).call('localMaintenance', {})).toBe(false);
  });
});
