import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVdsmd, type Vdsmd } from '../src/cli/service.js';
import { type ApcSnmpSim, startApcSnmpSim } from './fixtures/apc-snmp-sim.js';
import { startCliDevice } from './fixtures/cli-device/index.js';
import { type IpmiSim, startIpmiSim } from './fixtures/ipmi-sim.js';
import { captureLog } from './support/capture-log.js';
import { testConfig } from './support/config.js';
import { EngineClient } from './support/engine.js';
import { engineIpmiFence } from './support/engine-fence.js';
import { DUMMY_POWER_PLUGIN } from './support/fence-plugins.js';

const PASSWORD = 'fenceNode-pw9';
let sim: IpmiSim;
let service: Vdsmd;
let engine: EngineClient;
let pluginDir: string;
let logLines: () => Record<string, unknown>[];

// A drop-in plugin as an admin would install one: plain ESM, an in-memory outlet.
const DUMMY = DUMMY_POWER_PLUGIN;

beforeAll(async () => {
  pluginDir = mkdtempSync(join(tmpdir(), 'fence-d-'));
  writeFileSync(join(pluginDir, 'dummy.mjs'), DUMMY);
  writeFileSync(
    join(pluginDir, 'no-power.mjs'),
    `export default { name: 'fence_broken', shortdesc: 'x', longdesc: '', uses: [], connect: async () => ({}) };`,
  );
  writeFileSync(join(pluginDir, 'syntax.js'), 'export default {');
  writeFileSync(join(pluginDir, 'clash.mjs'), DUMMY.replace("'fence_dummy'", "'fence_ipmilan'"));
  const cap = captureLog();
  logLines = cap.lines;
  sim = await startIpmiSim({ user: 'admin', password: PASSWORD });
  service = await startVdsmd(testConfig({ fencePluginDir: pluginDir }), { log: cap.log });
  await service.recovered;
  engine = await EngineClient.connect(service.port);
});

afterAll(async () => {
  await engine?.close();
  await service?.close();
  await sim?.stop();
  rmSync(pluginDir, { recursive: true, force: true });
});

const ipmi = (action: string, extra: Record<string, unknown> = {}) =>
  engineIpmiFence(sim.port, PASSWORD, action, extra);

describe('Host.fenceNode against ipmi_sim', () => {
  it('status answers {power}', async () => {
    sim.setPower('on');
    expect((await engine.request('Host.fenceNode', ipmi('status'))).result).toEqual({ power: 'on' });
    sim.setPower('off');
    expect((await engine.request('Host.fenceNode', ipmi('status'))).result).toEqual({ power: 'off' });
  });

  it('off, on and reboot answer "initiated" only after the state is confirmed', async () => {
    sim.setPower('on');
    expect((await engine.request('Host.fenceNode', ipmi('off'))).result).toEqual({
      power: 'unknown',
      operationStatus: 'initiated',
    });
    expect(sim.power()).toBe('off');
    expect((await engine.request('Host.fenceNode', ipmi('on'))).result).toEqual({
      power: 'unknown',
      operationStatus: 'initiated',
    });
    expect(sim.power()).toBe('on');
    expect((await engine.request('Host.fenceNode', ipmi('reboot'))).result).toEqual({
      power: 'unknown',
      operationStatus: 'initiated',
    });
    expect(sim.power()).toBe('on');
  });

  it('an alias name works (ilo4 = ipmilan with lanplus)', async () => {
    sim.setPower('on');
    const r = await engine.request(
      'Host.fenceNode',
      ipmi('status', { agent: 'ilo4', options: `ipport=${sim.port}\ncipher=3` }),
    );
    expect(r.result).toEqual({ power: 'on' });
  });

  it('a wrong password is error 1 with the agent message, and the password is not in it', async () => {
    const r = await engine.request('Host.fenceNode', ipmi('status', { password: 'nope-' + PASSWORD }));
    expect(r.error.code).toBe(1);
    expect(r.error.message).toMatch(/Unable to obtain correct plug status/);
    expect(r.error.message).not.toContain(PASSWORD);
  });

  it('refuses agent names that are not loaded plugins, ../ included, with 43 and runs nothing', async () => {
    for (const agent of ['../../../bin/sh', 'ipmilan/../x', 'nonexistent', 'broken', 'IPMILAN']) {
      const r = await engine.request('Host.fenceNode', ipmi('off', { agent }));
      expect(r.error.code, agent).toBe(43);
    }
  });

  it('rejects an illegal action and wrong types with -32602', async () => {
    expect((await engine.request('Host.fenceNode', ipmi('explode'))).error.code).toBe(-32602);
    expect((await engine.request('Host.fenceNode', ipmi('status', { addr: 42 }))).error.code).toBe(-32602);
  });
});

describe('Host.fenceNode with the other agents, in process', () => {
  let pdu: ApcSnmpSim;
  beforeAll(async () => {
    pdu = await startApcSnmpSim({ outlets: 3 });
  });
  afterAll(async () => {
    await pdu?.stop();
  });

  it("apc_snmp: the engine's port is the outlet", async () => {
    pdu.setOutlet(2, 'on');
    const params = {
      addr: '127.0.0.1',
      port: '2',
      agent: 'apc_snmp',
      username: '',
      password: '',
      options: `ipport=${pdu.port}\ncommunity=private\npower_wait=0`,
    };
    expect((await engine.request('Host.fenceNode', { ...params, action: 'off' })).result).toEqual({
      power: 'unknown',
      operationStatus: 'initiated',
    });
    expect(pdu.outlet(2)).toBe('off');
    expect((await engine.request('Host.fenceNode', { ...params, action: 'status' })).result).toEqual({ power: 'off' });
  });

  it.each(['telnet', 'ssh'] as const)('drac5 over %s: a single DRAC 5 needs no port', async (transport) => {
    const drac = await startCliDevice({ device: 'drac5', transport });
    try {
      const params = {
        addr: '127.0.0.1',
        port: '',
        agent: 'drac5',
        username: 'root',
        password: 'calvin',
        secure: transport === 'ssh',
        options: `ipport=${drac.port}\npower_wait=0`,
      };
      expect((await engine.request('Host.fenceNode', { ...params, action: 'status' })).result).toEqual({ power: 'on' });
      expect((await engine.request('Host.fenceNode', { ...params, action: 'off' })).result).toEqual({
        power: 'unknown',
        operationStatus: 'initiated',
      });
      expect(drac.power()).toBe(false);
    } finally {
      await drac.close();
    }
  });
});

describe('fence plugin loading', () => {
  it('runs a valid drop-in plugin through Host.fenceNode', async () => {
    const r = await engine.request('Host.fenceNode', {
      addr: 'x',
      port: '',
      agent: 'dummy',
      username: 'u',
      password: 'p',
      action: 'off',
      options: 'power_wait=0',
    });
    expect(r.result).toEqual({ power: 'unknown', operationStatus: 'initiated' });
    expect(
      (
        await engine.request('Host.fenceNode', {
          addr: 'x',
          agent: 'dummy',
          username: 'u',
          password: 'p',
          action: 'status',
        })
      ).result,
    ).toEqual({ power: 'off' });
  });

  it('reports bad plugins (wrong shape, syntax error, name clash) and skips them without failing', () => {
    const refused = logLines().filter((l) => l.msg === 'fence plugin refused');
    const bySource = Object.fromEntries(refused.map((l) => [String(l.source).split('/').pop(), String(l.reason)]));
    expect(bySource['no-power.mjs']).toMatch(/getPower/);
    expect(bySource['syntax.js']).toMatch(/cannot load/);
    expect(bySource['clash.mjs']).toMatch(/already provided/);
    expect(Object.keys(bySource)).not.toContain('dummy.mjs');
  });
});
