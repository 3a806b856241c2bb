import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtError, LibvirtErrorCode, LifecycleEventType, type Hypervisor, type LifecycleEvent } from '../src/virt/hypervisor.js';
import { openLibvirt } from '../src/virt/libvirt.js';

// Our addon against libvirt's test driver, in this process.
let hv: Hypervisor;
const events: LifecycleEvent[] = [];
const UUID = '0d6e4a2b-7c1f-4e3a-9b5d-2f8e6c4a1b3d';
const XML = `<domain type='test'><name>binding</name><uuid>${UUID}</uuid><memory unit='MiB'>64</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain>`;

beforeAll(async () => {
  hv = await openLibvirt('test:///default');
  hv.onLifecycle((e) => events.push(e));
});
afterAll(() => hv?.close());

const until = async (pred: () => boolean) => {
  for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  return pred();
};

describe('the libvirt binding', () => {
  it('defines, starts, pauses, resumes, shuts down and undefines a persistent domain, with lifecycle events', async () => {
    const defined = await hv.define(XML);
    expect(defined).toMatchObject({ uuid: UUID, name: 'binding', id: -1, state: 5, persistent: true });
    await hv.start(UUID);
    expect(await hv.lookup(UUID)).toMatchObject({ state: 1, persistent: true });
    expect(await hv.info(UUID)).toMatchObject({ state: 1, maxMemKiB: 65536, vcpus: 2 });
    await hv.suspend(UUID);
    expect((await hv.lookup(UUID)).state).toBe(3);
    await hv.resume(UUID);
    await hv.shutdown(UUID);
    expect((await hv.lookup(UUID)).state).toBe(5);
    expect(await hv.domainXml(UUID)).toContain('<name>binding</name>');
    await hv.undefine(UUID);
    const kinds = [LifecycleEventType.Defined, LifecycleEventType.Started, LifecycleEventType.Suspended, LifecycleEventType.Resumed, LifecycleEventType.Stopped, LifecycleEventType.Undefined];
    expect(await until(() => events.filter((e) => e.uuid === UUID).length >= kinds.length)).toBe(true);
    expect(events.filter((e) => e.uuid === UUID).map((e) => e.event)).toEqual(kinds);
    const now = Number(process.hrtime.bigint()) / 1e6;
    for (const e of events) expect(now - e.at).toBeLessThan(10_000); // libvirt's thread stamps the CLOCK_MONOTONIC of process.hrtime
  });

  it('runs a transient domain that vanishes when destroyed; bulk stats cover every domain', async () => {
    const created = await hv.createTransient(XML.replace('binding', 'transient'));
    expect(created).toMatchObject({ uuid: UUID, persistent: false, state: 1 });
    const stats = await hv.allDomainStats();
    expect(stats.find((s) => s.uuid === UUID)?.stats['state.state']).toBe(1);
    await hv.destroy(UUID);
    await expect(hv.lookup(UUID)).rejects.toMatchObject({ name: 'LibvirtError', code: LibvirtErrorCode.NoDomain });
  });

  it("turns libvirt's failures into LibvirtError with libvirt's number and text", async () => {
    const missing = await hv.destroy('00000000-0000-0000-0000-000000000000').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(LibvirtError);
    expect(missing).toMatchObject({ code: LibvirtErrorCode.NoDomain, message: expect.stringMatching(/[Dd]omain not found/) });
    const badXml = await hv.define('<domain type="test"><name>x</name').catch((e: unknown) => e);
    expect(badXml).toMatchObject({ name: 'LibvirtError', code: LibvirtErrorCode.XmlDetail });
    await hv.define(XML);
    // The test driver reports a shut-off domain as an internal error (qemu says "operation invalid").
    await expect(hv.suspend(UUID)).rejects.toMatchObject({ name: 'LibvirtError', code: LibvirtErrorCode.InternalError, message: expect.stringMatching(/domain 'binding' not running/) });
    await hv.undefine(UUID);
    await expect(openLibvirt('nosuchdriver:///x')).rejects.toBeInstanceOf(LibvirtError);
  });

  it('never blocks the JS thread: a libvirtd that accepts and never answers leaves timers on time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vdsm-mute-libvirtd-'));
    const sockets: net.Socket[] = [];
    const mute = net.createServer((s) => sockets.push(s)).listen(join(dir, 'sock'));
    await new Promise((r) => mute.once('listening', r));
    try {
      const opening = openLibvirt(`qemu+unix:///system?socket=${join(dir, 'sock')}`).then(
        () => 'opened',
        (e: Error) => e,
      );
      const lateness: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        await new Promise((r) => setTimeout(r, 10));
        lateness.push(performance.now() - t - 10);
      }
      expect(Math.max(...lateness)).toBeLessThan(50);
      expect(await Promise.race([opening, new Promise((r) => setTimeout(() => r('pending'), 10))])).toBe('pending');
      for (const s of sockets) s.destroy(); // the "daemon" hangs up: the open fails, typed
      expect(await opening).toBeInstanceOf(LibvirtError);
    } finally {
      mute.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
