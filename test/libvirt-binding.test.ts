import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LibvirtError,
  LibvirtErrorCode,
  LifecycleEventType,
  type Hypervisor,
  type LifecycleEvent,
} from '../src/virt/hypervisor.js';
import { openLibvirt } from '../src/virt/libvirt.js';
import { stopProcess } from './support/processes.js';
import { pollUntil, waitFor } from './support/wait.js';

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

const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

describe('the libvirt binding', () => {
  it('defines, starts, pauses, resumes, shuts down and undefines a persistent domain, with lifecycle events', async () => {
    const before = monotonicMs();
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
    const kinds = [
      LifecycleEventType.Defined,
      LifecycleEventType.Started,
      LifecycleEventType.Suspended,
      LifecycleEventType.Resumed,
      LifecycleEventType.Stopped,
      LifecycleEventType.Undefined,
    ];
    expect(await pollUntil(() => events.filter((e) => e.uuid === UUID).length >= kinds.length, 1000, 10)).toBe(true);
    expect(events.filter((e) => e.uuid === UUID).map((e) => e.event)).toEqual(kinds);
    // libvirt's thread stamps each event with the CLOCK_MONOTONIC of process.hrtime, when it happened.
    const after = monotonicMs();
    for (const e of events.filter((x) => x.uuid === UUID)) {
      expect(e.at).toBeGreaterThanOrEqual(before);
      expect(e.at).toBeLessThanOrEqual(after);
    }
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
    expect(missing).toMatchObject({
      code: LibvirtErrorCode.NoDomain,
      message: expect.stringMatching(/[Dd]omain not found/),
    });
    const badXml = await hv.define('<domain type="test"><name>x</name').catch((e: unknown) => e);
    expect(badXml).toMatchObject({ name: 'LibvirtError', code: LibvirtErrorCode.XmlDetail });
    await hv.define(XML);
    // The test driver reports a shut-off domain as an internal error (qemu says "operation invalid").
    await expect(hv.suspend(UUID)).rejects.toMatchObject({
      name: 'LibvirtError',
      code: LibvirtErrorCode.InternalError,
      message: expect.stringMatching(/domain 'binding' not running/),
    });
    await hv.undefine(UUID);
    await expect(openLibvirt('nosuchdriver:///x')).rejects.toBeInstanceOf(LibvirtError);
  });

  it('never blocks the JS thread: while a libvirtd that accepts and never answers holds the open, timers run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vdsm-mute-libvirtd-'));
    const sock = join(dir, 'sock');
    // The mute daemon is another process: an open blocking this thread must fail the test, not hang it. It hangs
    // up when told (a line on stdin) or after 20 s.
    const mute = spawn(process.execPath, ['-e', MUTE_DAEMON, sock], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await waitFor('the mute daemon', async () => (existsSync(sock) ? true : undefined), 10_000, 20);
      let settled = false;
      const opening = openLibvirt(`qemu+unix:///system?socket=${sock}`).then(
        () => 'opened',
        (e: Error) => e,
      );
      void opening.finally(() => (settled = true));
      let accepted = false;
      mute.stdout!.on('data', () => (accepted = true));
      let ticks = 0;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if ((++ticks >= 20 && accepted) || ticks >= 1000) {
            clearInterval(timer);
            resolve();
          }
        }, 10);
      });
      expect(accepted, 'the open reached the daemon').toBe(true);
      // 20 timer ticks ran on this thread while the open, connected to the daemon, was still waiting for it.
      expect(settled).toBe(false);
      mute.stdin!.write('hang up\n'); // the daemon hangs up: the open fails, typed
      expect(await opening).toBeInstanceOf(LibvirtError);
    } finally {
      await stopProcess(mute, 2000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const MUTE_DAEMON = `
const net = require('node:net');
const sockets = [];
const server = net.createServer((s) => { sockets.push(s); process.stdout.write('accepted\\n'); }).listen(process.argv[1]);
const hangUp = () => { for (const s of sockets) s.destroy(); server.close(); process.stdin.destroy(); };
process.stdin.once('data', hangUp);
setTimeout(hangUp, 20000).unref();
`;
