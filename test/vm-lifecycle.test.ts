import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVdsmd, type Vdsmd } from '../src/cli/service.js';
import { LifecycleEventType, type LifecycleEvent } from '../src/virt/hypervisor.js';
import { captureLog } from './support/capture-log.js';
import { testConfig } from './support/config.js';
import { EngineClient } from './support/engine.js';
import { HeldEvents } from './support/held-events.js';
import { engineDomainXml } from './support/vm-xml.js';

// libvirt's test driver, in this process: it starts with one running domain named "test".
const TEST_DOMAIN = '6695eb01-f6a4-8304-79aa-97f2502e193f';
const RUNNING_KEYS = [
  'statusTime',
  'status',
  'vmId',
  'vmName',
  'vmType',
  'kvmEnable',
  'acpiEnable',
  'elapsedTime',
  'monitorResponse',
  'clientIp',
  'timeOffset',
  'cpuUser',
  'cpuSys',
  'cpuUsage',
  'cpuActual',
  'displayInfo',
  'username',
  'session',
  'memUsage',
  'guestCPUCount',
  'appsList',
  'guestIPs',
  'guestFQDN',
];

let service: Vdsmd;
let engine: EngineClient;
let logs: ReturnType<typeof captureLog>;
const held = new HeldEvents();
const libvirtEvents: (LifecycleEvent & { seen: number })[] = [];
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

beforeAll(async () => {
  logs = captureLog();
  service = await startVdsmd(testConfig({ guestWaitTimeout: 60 }), { log: logs.log, openHypervisor: held.open });
  await service.recovered;
  // On libvirt's own connection: this listener sees every event when libvirt delivers it, held or not.
  held.inner!.onLifecycle((e) => libvirtEvents.push({ ...e, seen: monotonicMs() }));
  engine = await EngineClient.connect(service.port);
  await engine.request('Host.ping2');
});

afterAll(async () => {
  await engine?.close();
  await service?.close();
});

/** Events about one VM, as the engine got them: `{status, …}` bodies with the receive time. */
function vmEvents(vmId: string) {
  return engine.events
    .filter((e) => e.body.method === `|virt|VM_status|${vmId}`)
    .map((e) => ({ ...e.body.params[vmId], notify_time: e.body.params.notify_time }));
}

async function eventWith(vmId: string, status: string, after = 0) {
  await engine.until(
    () =>
      vmEvents(vmId)
        .slice(after)
        .some((e) => e.status === status),
    5000,
  );
  return vmEvents(vmId)
    .slice(after)
    .find((e) => e.status === status)!;
}

async function ok(method: string, params: Record<string, unknown>) {
  const reply = await engine.request(method, params);
  expect(reply.error, `${method}: ${JSON.stringify(reply.error)}`).toBeUndefined();
  return reply.result;
}

describe('recovery', () => {
  it('takes over the domain libvirt already runs: listed Up, with stats', async () => {
    expect(await ok('Host.getVMList', { onlyUUID: false })).toContainEqual({
      vmId: TEST_DOMAIN,
      status: 'Up',
      statusTime: expect.stringMatching(/^\d+$/),
    });
    const [stats] = await ok('VM.getStats', { vmID: TEST_DOMAIN });
    expect(stats).toMatchObject({
      vmId: TEST_DOMAIN,
      vmName: 'test',
      status: 'Up',
      vmType: 'test',
      kvmEnable: 'true',
      hash: expect.any(String),
    });
    const all = await ok('Host.getAllVmStats', {});
    expect(all[0].vmId).toBe(TEST_DOMAIN);
  });

  it('reports the libvirt it talks through in Host.getCapabilities packages2', async () => {
    expect((await ok('Host.getCapabilities', {})).packages2.libvirt).toEqual({
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      release: '',
    });
  });
});

describe('a VM through its whole life, as the engine drives it', () => {
  const { uuid, xml } = engineDomainXml();

  it('VM.create answers WaitForLaunch with the XML unchanged; the start comes as a Powering up event with running stats', async () => {
    const created = await ok('VM.create', { vmID: uuid, vmParams: { vmId: uuid, xml } });
    expect(created).toEqual({ vmId: uuid, status: 'WaitForLaunch', statusTime: expect.stringMatching(/^\d+$/), xml });
    const started = await eventWith(uuid, 'Powering up');
    expect(started).toMatchObject({
      elapsedTime: '0',
      monitorResponse: '0',
      pauseCode: 'NOERR',
      cpuUser: '0.00',
      cpuActual: false,
    });
    expect(started).not.toHaveProperty('statusTime');
    expect(started).not.toHaveProperty('vmName');
  });

  it('reports it as vdsm does: Powering up in stats, raw Up in the VM list, counted in Host.getStats', async () => {
    const [stats] = await ok('VM.getStats', { vmID: uuid });
    for (const key of RUNNING_KEYS) expect(stats, key).toHaveProperty(key);
    expect(stats).toMatchObject({
      status: 'Powering up',
      vmName: expect.stringMatching(/^vm-/),
      acpiEnable: 'true',
      guestCPUCount: -1,
      appsList: [],
    });
    expect(typeof stats.cpuUsage).toBe('string');
    expect(await ok('Host.getVMList', { vmList: [uuid] })).toEqual([
      { vmId: uuid, status: 'Up', statusTime: expect.any(String) },
    ]);
    const host = await ok('Host.getStats', {});
    expect(host.vmCount).toBeGreaterThanOrEqual(2);
    expect(host.vmActive).toBeGreaterThanOrEqual(2);
  });

  it('a second VM.create with the same id is refused with 4 and changes nothing', async () => {
    const reply = await engine.request('VM.create', { vmID: uuid, vmParams: { xml } });
    expect(reply.error).toEqual({ code: 4, message: `Virtual machine already exists: {'vmId': '${uuid}'}` });
    expect((await ok('VM.getStats', { vmID: uuid }))[0].status).toBe('Powering up');
  });

  it('VM.pause and VM.cont answer {vmList: {}} and each brings a VM_status event', async () => {
    const before = vmEvents(uuid).length;
    expect(await ok('VM.pause', { vmID: uuid })).toEqual({ vmList: {} });
    expect(await eventWith(uuid, 'Paused', before)).toEqual({ status: 'Paused', notify_time: expect.any(Number) });
    expect((await ok('VM.getStats', { vmID: uuid }))[0]).toMatchObject({ status: 'Paused', pauseCode: 'NOERR' });
    expect(await ok('VM.cont', { vmID: uuid })).toEqual({ vmList: {} });
    await eventWith(uuid, 'Powering up', before + 1);
    expect((await ok('VM.getStats', { vmID: uuid }))[0]).not.toHaveProperty('pauseCode');
  });

  it('VM.shutdown (ACPI) brings Down 0/6 "Admin shut down from the engine"; the VM stays listed as Down', async () => {
    expect(await ok('VM.shutdown', { vmID: uuid, delay: '0', message: 'bye' })).toBe(true);
    const down = await eventWith(uuid, 'Down');
    expect(down).toEqual({
      status: 'Down',
      vmId: uuid,
      exitCode: 0,
      exitReason: 6,
      exitMessage: 'Admin shut down from the engine',
      notify_time: expect.any(Number),
    });
    expect((await ok('VM.getStats', { vmID: uuid }))[0]).toEqual({
      statusTime: expect.any(String),
      status: 'Down',
      vmId: uuid,
      exitCode: 0,
      exitReason: 6,
      exitMessage: 'Admin shut down from the engine',
    });
    expect((await ok('Host.getAllVmStats', {})).map((s: any) => s.vmId)).toContain(uuid);
  });

  it('VM.cont on a Down VM is 16, VM.pause 100, VM.shutdown 1', async () => {
    expect((await engine.request('VM.cont', { vmID: uuid })).error.code).toBe(16);
    expect((await engine.request('VM.pause', { vmID: uuid })).error).toEqual({
      code: 100,
      message: `General Exception: ("VM '${uuid}' was not defined yet or was undefined",)`,
    });
    expect((await engine.request('VM.shutdown', { vmID: uuid })).error).toEqual({
      code: 1,
      message: 'Virtual machine does not exist',
    });
  });

  it('VM.destroy of the Down VM removes it; afterwards every VM verb answers 1 noVM', async () => {
    const events = vmEvents(uuid).length;
    expect(await ok('VM.destroy', { vmID: uuid })).toBe(true);
    expect((await ok('Host.getVMList', {})).map((v: any) => v.vmId)).not.toContain(uuid);
    for (const method of ['VM.getStats', 'VM.pause', 'VM.cont', 'VM.destroy', 'VM.shutdown']) {
      expect((await engine.request(method, { vmID: uuid })).error, method).toEqual({
        code: 1,
        message: `Virtual machine does not exist: {'vmId': '${uuid}'}`,
      });
    }
    expect(vmEvents(uuid)).toHaveLength(events); // a Down VM is removed silently
  });
});

describe('events follow libvirt', () => {
  it("VM.destroy of a running VM: Down 0/6 published from libvirt's event, as it is dispatched", async () => {
    const { uuid, xml } = engineDomainXml();
    await ok('VM.create', { vmParams: { xml } });
    await eventWith(uuid, 'Powering up');
    expect(await ok('VM.destroy', { vmID: uuid })).toBe(true);
    const down = await eventWith(uuid, 'Down');
    expect(down).toMatchObject({ exitCode: 0, exitReason: 6 });
    const libvirtStop = libvirtEvents.find((e) => e.uuid === uuid && e.event === 5)!;
    expect(libvirtStop).toBeDefined();
    // notify_time is monotonic ms + INT32_MAX, the clock libvirt stamps its events with. vdsmd's lifecycle listener
    // runs before this test's (registered after recovery), so an event-driven Down is published between libvirt's
    // stamp and our listener's; a Down found later (by polling, say) would be stamped after `seen`.
    const published = down.notify_time - 2147483647;
    expect(published).toBeGreaterThanOrEqual(Math.floor(libvirtStop.at));
    expect(published).toBeLessThanOrEqual(libvirtStop.seen);
    expect((await ok('Host.getVMList', {})).map((v: any) => v.vmId)).not.toContain(uuid);
  });

  it("VM.destroy while libvirt's Stopped event is late (held 1.5 s): the Down still waits for it and carries its stamp", async () => {
    const { uuid, xml } = engineDomainXml();
    await ok('VM.create', { vmParams: { xml } });
    await eventWith(uuid, 'Powering up');
    held.type = LifecycleEventType.Stopped;
    held.holdMs = 1500;
    try {
      expect(await ok('VM.destroy', { vmID: uuid })).toBe(true);
      const down = await eventWith(uuid, 'Down');
      expect(down).toMatchObject({ exitCode: 0, exitReason: 6 });
      // Published once the held event reached vdsmd, not by the destroy before it: a busy host's order of things.
      const published = down.notify_time - 2147483647;
      expect(published).toBeGreaterThanOrEqual(Math.floor(held.delivered.get(uuid)!));
      expect(libvirtEvents.find((e) => e.uuid === uuid && e.event === LifecycleEventType.Stopped)).toBeDefined();
    } finally {
      held.holdMs = 0;
    }
  });

  it("VM.destroy when libvirt's Stopped event never comes: Down 0/6 all the same, and a warning says why", async () => {
    const { uuid, xml } = engineDomainXml();
    await ok('VM.create', { vmParams: { xml } });
    await eventWith(uuid, 'Powering up');
    held.type = LifecycleEventType.Stopped;
    held.holdMs = Infinity;
    try {
      expect(await ok('VM.destroy', { vmID: uuid })).toBe(true);
      expect(await eventWith(uuid, 'Down')).toMatchObject({ exitCode: 0, exitReason: 6 });
      expect(logs.lines().some((l) => l.vmId === uuid && /Stopped event did not come/.test(String(l.msg)))).toBe(true);
      expect((await ok('Host.getVMList', {})).map((v: any) => v.vmId)).not.toContain(uuid);
    } finally {
      held.holdMs = 0;
    }
  });

  it('a pause done behind our back (virsh suspend) is reported too, and a guest shutdown is 0/7', async () => {
    const { uuid, xml } = engineDomainXml();
    await ok('VM.create', { vmParams: { xml } });
    await eventWith(uuid, 'Powering up');
    const hv = service.virt.vms!.hypervisor;
    await hv.suspend(uuid);
    await eventWith(uuid, 'Paused');
    await hv.resume(uuid);
    await hv.shutdown(uuid); // as if the guest's own poweroff
    const down = await eventWith(uuid, 'Down');
    expect(down).toMatchObject({ exitCode: 0, exitReason: 7, exitMessage: 'User shut down from within the guest' });
    await ok('VM.destroy', { vmID: uuid });
  });
});

describe('VM.shutdown methods', () => {
  it('without ACPI or a guest agent: 4, and the VM keeps running; with force it is destroyed (0/6)', async () => {
    const { uuid, xml } = engineDomainXml({ acpi: false });
    await ok('VM.create', { vmParams: { xml } });
    await eventWith(uuid, 'Powering up');
    expect((await engine.request('VM.shutdown', { vmID: uuid })).error).toEqual({
      code: 4,
      message: 'VM without ACPI or active oVirt guest agent. Try Forced Shutdown.',
    });
    expect((await ok('VM.getStats', { vmID: uuid }))[0].status).toBe('Powering up');
    expect(await ok('VM.shutdown', { vmID: uuid, force: true, timeout: '5' })).toBe(true);
    expect(await eventWith(uuid, 'Down')).toMatchObject({ exitCode: 0, exitReason: 6 });
    await ok('VM.destroy', { vmID: uuid });
  });
});

describe('bad VM.create input: a clear error and nothing half-created', () => {
  const cases: [string, Record<string, unknown>, number, RegExp][] = [
    [
      'legacy form without memSize',
      { vmId: '3a1b6c1e-0000-4000-8000-000000000001', vmName: 'x' },
      11,
      /Missing required parameter: \{'param': 'memSize'\}/,
    ],
    ['legacy form without any id', { memSize: 128 }, 11, /'param': 'vmId'/],
    [
      'negative vCPUs',
      { vmId: '3a1b6c1e-0000-4000-8000-000000000002', memSize: 128, smp: -2 },
      -32602,
      /vmParams\.smp: smp must be positive/,
    ],
    [
      'memSize that is not a number',
      { vmId: '3a1b6c1e-0000-4000-8000-000000000003', memSize: 'lots' },
      -32602,
      /vmParams\.memSize/,
    ],
    [
      'malformed XML',
      { xml: '<domain type="kvm"><name>x</name' },
      100,
      /^General Exception: \(["']malformed domain XML: .+["'],\)$/,
    ],
    [
      'XML without a uuid',
      { xml: '<domain type="kvm"><name>x</name><memory>1024</memory></domain>' },
      100,
      /has no <uuid>/,
    ],
    ['XML that is not a domain', { xml: '<network><name>x</name></network>' }, 100, /not a libvirt <domain>/],
    ['XML with a zero memory', { xml: engineDomainXml({ memoryMiB: 0 }).xml }, 100, /<memory> must be a positive size/],
  ];
  for (const [name, vmParams, code, message] of cases) {
    it(name, async () => {
      const before = await ok('Host.getVMList', {});
      const domains = (await service.virt.vms!.hypervisor.listDomains()).length;
      const reply = await engine.request('VM.create', { vmParams });
      expect(reply.error?.code).toBe(code);
      expect(reply.error.message).toMatch(message);
      expect(await ok('Host.getVMList', {})).toEqual(before);
      expect((await service.virt.vms!.hypervisor.listDomains()).length).toBe(domains);
    });
  }

  it("libvirt refusing the domain at start comes as Down 1/1 with libvirt's text", async () => {
    // Same name as the running "test" domain: valid XML, which libvirt refuses when it starts it.
    const { uuid, xml } = engineDomainXml({ name: 'test' });
    expect((await ok('VM.create', { vmParams: { xml } })).status).toBe('WaitForLaunch');
    const down = await eventWith(uuid, 'Down');
    expect(down).toMatchObject({
      exitCode: 1,
      exitReason: 1,
      exitMessage: expect.stringMatching(/already (exists|defined)/),
    });
    await ok('VM.destroy', { vmID: uuid });
  });
});

describe('the legacy vmParams form', () => {
  it('builds the domain XML from vmId, vmName, memSize and smp, and runs it', async () => {
    const vmId = '5f2b7c1e-1111-4222-8333-944455556666';
    const created = await ok('VM.create', {
      vmID: vmId,
      vmParams: { vmId, vmName: 'legacy', memSize: 512, smp: '2', acpiEnable: 'false' },
    });
    expect(created.xml).toMatch(/<memory unit="KiB">524288<\/memory>/);
    expect(created.xml).not.toMatch(/<acpi/);
    await eventWith(vmId, 'Powering up');
    const info = await service.virt.vms!.hypervisor.info(vmId);
    expect(info).toMatchObject({ maxMemKiB: 524288, vcpus: 2 });
    expect((await ok('VM.getStats', { vmID: vmId }))[0]).toMatchObject({ vmName: 'legacy', acpiEnable: 'false' });
    await ok('VM.destroy', { vmID: vmId });
  });
});
