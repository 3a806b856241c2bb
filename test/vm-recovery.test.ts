import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startVdsmd, type Vdsmd } from '../src/cli/service.js';
import { captureLog } from './support/capture-log.js';
import { testConfig } from './support/config.js';
import { EngineClient } from './support/engine.js';
import { engineDomainXml } from './support/vm-xml.js';
import { waitFor } from './support/wait.js';

const started: { service: Vdsmd; engine?: EngineClient }[] = [];
const dir = mkdtempSync(join(tmpdir(), 'vdsm-recovery-'));

afterAll(async () => {
  for (const { service, engine } of started.reverse()) {
    await engine?.close();
    await service.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

async function start(overrides: Parameters<typeof testConfig>[0]) {
  const service = await startVdsmd(testConfig(overrides), { log: captureLog().log });
  const entry: { service: Vdsmd; engine?: EngineClient } = { service };
  started.push(entry);
  entry.engine = await EngineClient.connect(service.port);
  return { service, engine: entry.engine };
}

const domain = (name: string, uuid: string, extra = '') => `
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>${name}</name><uuid>${uuid}</uuid>
    <memory>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os>${extra}
  </domain>`;
const OVIRT = "<metadata><ovirt-vm:vm xmlns:ovirt-vm='http://ovirt.org/vm/1.0'/></metadata>";
const ids = {
  running: '11111111-0000-4000-8000-000000000001',
  paused: '11111111-0000-4000-8000-000000000002',
  ourDown: '11111111-0000-4000-8000-000000000003',
  foreignOff: '11111111-0000-4000-8000-000000000004',
};

describe('recovery', () => {
  it('answers every verb with 99 while libvirt is not there, then recovers what libvirt runs', async () => {
    // A test-driver URI whose file does not exist yet stands for a libvirtd that has not started.
    const file = join(dir, 'host.xml');
    const { service, engine } = await start({ libvirtUri: `test://${file}` });
    for (const method of ['Host.ping2', 'Host.getVMList', 'Host.getAllVmStats', 'VM.getStats', 'VM.create']) {
      expect((await engine.request(method, { vmID: ids.running })).error, method).toEqual({
        code: 99,
        message: 'Recovering from crash or Initializing',
      });
    }
    writeFileSync(
      file,
      `<node>${domain('running', ids.running, OVIRT)}${domain('paused', ids.paused, `${OVIRT}<test:runstate>3</test:runstate>`)}` +
        `${domain('our-down', ids.ourDown, `${OVIRT}<test:runstate>5</test:runstate>`)}${domain('foreign-off', ids.foreignOff, '<test:runstate>5</test:runstate>')}</node>`,
    );
    await Promise.race([
      service.recovered,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no recovery in 10 s')), 10_000)),
    ]);
    expect((await engine.request('Host.ping2')).result).toBe(true);

    const libvirtOrder = (await service.virt.vms!.hypervisor.listDomains())
      .map((d) => d.uuid)
      .filter((id) => id !== ids.foreignOff);
    const list = (await engine.request('Host.getVMList')).result;
    expect(list.map((v: any) => v.vmId)).toEqual(libvirtOrder); // libvirt's order; the foreign shut-off domain is not ours
    const status = Object.fromEntries(list.map((v: any) => [v.vmId, v.status]));
    expect(status).toEqual({ [ids.running]: 'Up', [ids.paused]: 'Paused', [ids.ourDown]: 'Down' });
    const [down] = (await engine.request('VM.getStats', { vmID: ids.ourDown })).result;
    expect(down).toMatchObject({ status: 'Down', exitCode: 1, exitReason: 1 });
  });

  it('a restarted vdsmd takes over the VMs the previous one started', async () => {
    const first = await start({});
    // Until its recovery is done, vdsmd answers 99 to everything (a busy machine makes that window visible).
    await first.service.recovered;
    const { uuid, xml } = engineDomainXml();
    expect((await first.engine.request('VM.create', { vmParams: { xml } })).error).toBeUndefined();
    await first.engine.until(() => first.engine.events.some((e) => e.body.method === `|virt|VM_status|${uuid}`));
    // The second instance connects while the first still holds the test driver's shared state.
    const second = await start({});
    await second.service.recovered;
    expect((await second.engine.request('Host.getVMList')).result).toContainEqual({
      vmId: uuid,
      status: 'Up',
      statusTime: expect.any(String),
    });
    const [stats] = (await second.engine.request('VM.getStats', { vmID: uuid })).result;
    expect(stats).toMatchObject({ status: 'Up', vmName: expect.stringMatching(/^vm-/), acpiEnable: 'true' });
    expect((await second.engine.request('VM.destroy', { vmID: uuid })).result).toBe(true);
  });
});

describe('Powering up ends by the clock when no guest agent speaks', () => {
  it('is Up after guest_wait_timeout', async () => {
    const { service, engine } = await start({ guestWaitTimeout: 0.3 });
    await service.recovered;
    const { uuid, xml } = engineDomainXml();
    await engine.request('VM.create', { vmParams: { xml } });
    await engine.until(() => engine.events.some((e) => e.body.params[uuid]?.status === 'Powering up'));
    expect((await engine.request('VM.getStats', { vmID: uuid })).result[0].status).toBe('Powering up');
    const status = async () => (await engine.request('VM.getStats', { vmID: uuid })).result[0].status as string;
    expect(await waitFor('Up', async () => ((await status()) === 'Up' ? 'Up' : undefined), 10_000, 50)).toBe('Up');
    await engine.request('VM.destroy', { vmID: uuid });
  });
});
