/**
 * vdsmd's metrics fed from inside the service (docs/metrics.md), in process: events sent, Host.fenceNode by agent,
 * action and outcome, and /health following the libvirt connection as it goes away and comes back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVdsmd, type Vdsmd } from '../src/cli/service.js';
import type { Hypervisor } from '../src/virt/hypervisor.js';
import { openLibvirt } from '../src/virt/libvirt.js';
import { captureLog } from './support/capture-log.js';
import { testConfig } from './support/config.js';
import { EngineClient } from './support/engine.js';
import { sampleValue } from './support/prom-text.js';
import { waitFor } from './support/wait.js';
import { DUMMY_POWER_PLUGIN } from './support/fence-plugins.js';

/** libvirt's test driver, with a switch that drops the connection (as libvirtd going away) and refuses new ones. */
class FlakyLibvirt {
  refuse = false;
  private lose: ((reason: string) => void) | undefined;

  open = async (uri: string): Promise<Hypervisor> => {
    if (this.refuse) throw new Error('libvirtd is away');
    const hv = await openLibvirt(uri);
    return new Proxy(hv, {
      get: (target, prop, receiver) => {
        if (prop !== 'onClose') return Reflect.get(target, prop, receiver) as unknown;
        return (listener: (reason: string) => void) => {
          this.lose = listener;
          target.onClose(listener);
        };
      },
    });
  };

  goAway(): void {
    this.refuse = true;
    this.lose?.('end of file from libvirtd (test)');
  }
}

const POWER_PLUGIN = DUMMY_POWER_PLUGIN;
const FAILING_PLUGIN = `export default {
  name: 'fence_failing', shortdesc: 'Test agent', longdesc: 'Never answers', uses: ['ipaddr'],
  connect: async () => { throw new Error('no route to the BMC'); },
  getPower: async () => 'on',
  setPower: async () => {},
};`;

let service: Vdsmd;
let engine: EngineClient;
let pluginDir: string;
const libvirt = new FlakyLibvirt();

beforeAll(async () => {
  pluginDir = mkdtempSync(join(tmpdir(), 'metrics-fence-'));
  writeFileSync(join(pluginDir, 'dummy.mjs'), POWER_PLUGIN);
  writeFileSync(join(pluginDir, 'failing.mjs'), FAILING_PLUGIN);
  service = await startVdsmd(testConfig({ fencePluginDir: pluginDir }), {
    log: captureLog().log,
    openHypervisor: libvirt.open,
  });
  await service.recovered;
  engine = await EngineClient.connect(service.port);
  await engine.request('Host.ping2');
});

afterAll(async () => {
  await engine?.close();
  await service?.close();
  rmSync(pluginDir, { recursive: true, force: true });
});

const scrape = async () => (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
const fenceCount = (text: string, agent: string, action: string, outcome: string) =>
  sampleValue(text, 'vdsm_fence_actions_total', { agent, action, outcome });

describe('vdsmd metrics fed by the service', () => {
  it('counts events sent to the engine by family, without the unique id', async () => {
    service.events.publish('virt', 'VM_status', 'a7c1', { a7c1: { status: 'Paused' } });
    service.events.publish('virt', 'VM_status', 'b8d2', { b8d2: { status: 'Up' } });
    await engine.until(() => engine.events.length >= 2);
    const text = await scrape();
    expect(sampleValue(text, 'vdsm_events_sent_total', { event: 'virt|VM_status' })).toBeGreaterThanOrEqual(2);
    expect(text).not.toContain('a7c1');
  });

  it('counts Host.fenceNode by agent, action and outcome', async () => {
    const fence = (agent: string, action: string) =>
      engine.request('Host.fenceNode', { addr: '192.0.2.1', agent, username: 'u', password: 'p', action });
    expect((await fence('dummy', 'status')).result).toEqual({ power: 'on' });
    expect((await fence('dummy', 'off')).result).toEqual({ power: 'unknown', operationStatus: 'initiated' });
    expect((await fence('dummy', 'status')).result).toEqual({ power: 'off' });
    expect((await fence('failing', 'reboot')).error).toBeDefined();
    expect((await fence('no_such_agent', 'status')).error).toBeDefined();
    const text = await scrape();
    expect(fenceCount(text, 'dummy', 'status', 'on')).toBe(1);
    expect(fenceCount(text, 'dummy', 'off', 'initiated')).toBe(1);
    expect(fenceCount(text, 'dummy', 'status', 'off')).toBe(1);
    expect(fenceCount(text, 'failing', 'reboot', 'failed')).toBe(1);
    expect(fenceCount(text, 'unknown', 'status', 'no_agent')).toBe(1);
    expect(text).not.toContain('no_such_agent');
    expect(sampleValue(text, 'vdsm_rpc_requests_total', { method: 'Host.fenceNode', code: '0' })).toBe(3);
  });

  it('/health follows the libvirt connection: 200, 503 while it is gone, 200 once it is back', async () => {
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${service.port}/health`);
      return { status: res.status, body: (await res.json()) as unknown };
    };
    expect(await health()).toEqual({ status: 200, body: { status: 'ok', checks: { libvirt: 'ok' } } });
    libvirt.goAway();
    expect(await waitFor('health 503', async () => (await health()).status === 503 && health(), 10_000, 50)).toEqual({
      status: 503,
      body: { status: 'degraded', checks: { libvirt: 'disconnected' } },
    });
    expect(sampleValue(await scrape(), 'vdsm_libvirt_connected')).toBe(0);
    libvirt.refuse = false;
    await waitFor('health 200 again', async () => (await health()).status === 200, 10_000, 50);
    expect(sampleValue(await scrape(), 'vdsm_libvirt_connected')).toBe(1);
  });
});
