/**
 * One real VM: a private libvirtd (test/fixtures/libvirtd.ts) runs a tiny Debian kernel + busybox guest under
 * QEMU emulation, driven by vdsmd through the engine-like STOMP client. When libvirtd cannot start here or the tiny
 * guest is missing (`scripts/setup.sh test` prepares both), it skips saying why, and fails under VDSM_TS_NO_SKIP.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVdsmd, type Vdsmd } from '../src/cli/service.js';
import { captureLog } from './support/capture-log.js';
import { testConfig } from './support/config.js';
import { EngineClient } from './support/engine.js';
import { startLibvirtd, type Libvirtd } from './fixtures/libvirtd.js';
import { TINY_GUEST_MARKER, tinyDomainXml, tinyGuest, type TinyGuest } from './fixtures/tiny-guest.js';
import { missing } from './support/peers.js';
import { pollUntil, sleep } from './support/wait.js';

let lv: Libvirtd | undefined;
let guest: TinyGuest;
let skipReason = '';
const running: { service: Vdsmd; engine: EngineClient }[] = [];

beforeAll(async () => {
  const [g, l] = await Promise.allSettled([tinyGuest(), startLibvirtd()]);
  if (l.status === 'rejected') skipReason = (l.reason as Error).message;
  else lv = l.value;
  if (g.status === 'rejected') skipReason ||= `tiny guest: ${(g.reason as Error).message}`;
  else guest = g.value;
  if (skipReason) console.warn(`vm-qemu: skipping, ${skipReason}`);
}, 120_000);

afterAll(async () => {
  for (const { service, engine } of running.splice(0).reverse()) {
    await engine.close();
    await service.close();
  }
  await lv?.stop();
}, 60_000);

async function vdsmd() {
  const service = await startVdsmd(testConfig({ libvirtUri: lv!.uri, guestWaitTimeout: 1 }), { log: captureLog().log });
  await service.recovered;
  const engine = await EngineClient.connect(service.port);
  running.push({ service, engine });
  return { service, engine };
}

function domain(acpi = true) {
  const uuid = randomUUID();
  const consoleLog = join(lv!.dir, `console-${uuid}.log`);
  const xml = tinyDomainXml({
    name: `tiny-${uuid.slice(0, 8)}`,
    uuid,
    kernel: guest.kernel,
    initrd: guest.initrd,
    consoleLog,
    acpi,
  });
  return { uuid, xml, consoleLog };
}

const statuses = (engine: EngineClient, uuid: string) =>
  engine.events.filter((e) => e.body.method === `|virt|VM_status|${uuid}`).map((e) => e.body.params[uuid]);
const sawStatus = (engine: EngineClient, uuid: string, status: string, timeoutMs = 10_000) =>
  engine.until(() => statuses(engine, uuid).some((s) => s.status === status), timeoutMs);

describe('a real QEMU guest under libvirtd', () => {
  it('create, Up, pause, cont, ACPI shutdown, destroy, with the events', async (ctx) => {
    if (missing(`a private libvirtd with QEMU and the tiny guest (${skipReason})`, skipReason !== ''))
      return ctx.skip();
    const { service, engine } = await vdsmd();
    const { uuid, xml, consoleLog } = domain();

    const created = (await engine.request('VM.create', { vmParams: { xml } })).result;
    expect(created).toMatchObject({ vmId: uuid, status: 'WaitForLaunch' });
    await sawStatus(engine, uuid, 'Powering up');
    // The guest really runs: its /init prints the marker on the serial console (bounded wait).
    await pollUntil(
      () => existsSync(consoleLog) && readFileSync(consoleLog, 'utf8').includes(TINY_GUEST_MARKER),
      25_000,
      100,
    );
    expect(readFileSync(consoleLog, 'utf8')).toContain(TINY_GUEST_MARKER);

    // Two bulk samples give real CPU figures from QEMU.
    await service.virt.vms!.sample();
    await sleep(200);
    await service.virt.vms!.sample();
    const [stats] = (await engine.request('VM.getStats', { vmID: uuid })).result;
    expect(stats).toMatchObject({
      status: 'Up',
      vmType: 'qemu',
      cpuActual: true,
      vcpuCount: '1',
      hash: expect.any(String),
    });
    expect(Number(stats.cpuUsage)).toBeGreaterThan(0);

    expect((await engine.request('VM.pause', { vmID: uuid })).result).toEqual({ vmList: {} });
    await sawStatus(engine, uuid, 'Paused');
    expect((await lv!.virsh(['domstate', uuid])).stdout.trim()).toBe('paused');
    expect((await engine.request('VM.cont', { vmID: uuid })).result).toEqual({ vmList: {} });
    await engine.until(() => statuses(engine, uuid).filter((s) => s.status !== 'Paused').length >= 2);
    expect((await lv!.virsh(['domstate', uuid])).stdout.trim()).toBe('running');

    // The guest powers off on the ACPI button: an admin shutdown, 0/6.
    expect((await engine.request('VM.shutdown', { vmID: uuid, delay: '0', timeout: '20' })).result).toBe(true);
    expect((await engine.request('VM.getStats', { vmID: uuid })).result[0].status).toBe('Powering down');
    await sawStatus(engine, uuid, 'Down', 20_000);
    expect(statuses(engine, uuid).find((s) => s.status === 'Down')).toMatchObject({
      exitCode: 0,
      exitReason: 6,
      exitMessage: 'Admin shut down from the engine',
    });
    expect((await lv!.virsh(['list', '--all', '--uuid'])).stdout).not.toContain(uuid);
    expect((await engine.request('VM.destroy', { vmID: uuid })).result).toBe(true);
    expect((await engine.request('Host.getVMList')).result.map((v: any) => v.vmId)).not.toContain(uuid);
  }, 60_000);

  it('a restarted vdsmd recovers the running guest; VM.destroy then kills QEMU', async (ctx) => {
    if (missing(`a private libvirtd with QEMU and the tiny guest (${skipReason})`, skipReason !== ''))
      return ctx.skip();
    const first = await vdsmd();
    const { uuid, xml } = domain(false);
    await first.engine.request('VM.create', { vmParams: { xml } });
    await sawStatus(first.engine, uuid, 'Powering up');
    const entry = running.pop()!;
    await entry.engine.close();
    await entry.service.close();
    expect((await lv!.virsh(['domstate', uuid])).stdout.trim()).toBe('running'); // vdsmd's stop leaves VMs alone

    const { engine } = await vdsmd();
    expect((await engine.request('Host.getVMList')).result).toContainEqual({
      vmId: uuid,
      status: 'Up',
      statusTime: expect.any(String),
    });
    // No ACPI and no guest agent: shutdown cannot work; destroy does.
    expect((await engine.request('VM.shutdown', { vmID: uuid })).error.code).toBe(4);
    expect((await engine.request('VM.destroy', { vmID: uuid })).result).toBe(true);
    await sawStatus(engine, uuid, 'Down');
    expect(statuses(engine, uuid).find((s) => s.status === 'Down')).toMatchObject({ exitCode: 0, exitReason: 6 });
    expect((await lv!.virsh(['list', '--all', '--uuid'])).stdout).not.toContain(uuid);
  }, 60_000);

  it('libvirtd crashing: 99 while it is gone, then reconnect and recover the guest that kept running', async (ctx) => {
    if (missing(`a private libvirtd with QEMU and the tiny guest (${skipReason})`, skipReason !== ''))
      return ctx.skip();
    const { service, engine } = await vdsmd();
    const { uuid, xml } = domain(false);
    await engine.request('VM.create', { vmParams: { xml } });
    await sawStatus(engine, uuid, 'Powering up');

    await lv!.kill();
    const lostAt = Date.now();
    // Bounded: the connection's close callback fires on EOF, well within 5 s.
    await pollUntil(async () => (await engine.request('Host.ping2')).error?.code === 99, 5000, 100);
    expect((await engine.request('Host.ping2')).error).toEqual({
      code: 99,
      message: 'Recovering from crash or Initializing',
    });
    console.log(`vm-qemu: libvirtd killed → 99 after ${Date.now() - lostAt} ms`);

    await lv!.restart();
    const restartedAt = Date.now();
    await pollUntil(async () => !(await engine.request('Host.ping2')).error, 10_000, 100);
    console.log(`vm-qemu: libvirtd restarted → serving again after ${Date.now() - restartedAt} ms`);
    expect((await engine.request('Host.ping2')).result).toBe(true);
    expect(service.virt.vms).toBeDefined();
    expect((await engine.request('Host.getVMList')).result).toContainEqual({
      vmId: uuid,
      status: 'Up',
      statusTime: expect.any(String),
    });
    expect((await engine.request('VM.destroy', { vmID: uuid })).result).toBe(true);
    await sawStatus(engine, uuid, 'Down', 15_000);
  }, 60_000);
});
