/**
 * Smoke test of test/fixtures/libvirtd.ts + test/fixtures/tiny-guest.ts: a private libvirtd runs a
 * real (TCG) guest from a transient domain, the guest's /init prints its marker on the serial
 * console, and `virsh destroy` removes it again. A second case crashes libvirtd (kill()) under a
 * running guest and restarts it (restart()): the guest must survive and be re-attached.
 * Needs root, Debian packages libvirt-daemon-system libvirt-clients qemu-system-x86 tini and the tiny
 * guest (all from `scripts/setup.sh test`). Without them, or if libvirtd cannot start, it skips with the
 * reason locally and fails under VDSM_TS_NO_SKIP (test/support/peers.ts).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibvirtd, type Libvirtd } from './fixtures/libvirtd.js';
import { TINY_GUEST_WHAT, tinyDomainXml, tinyGuest, tinyGuestMissing, type TinyGuest } from './fixtures/tiny-guest.js';
import { missing } from './support/peers.js';
import { alive } from './support/proc-pids.js';
import { pollUntil } from './support/wait.js';

const cannotRun =
  missing('root (a private libvirtd)', process.getuid?.() !== 0) ||
  missing('libvirtd (/usr/sbin/libvirtd, Debian libvirt-daemon-system)', !existsSync('/usr/sbin/libvirtd')) ||
  missing(TINY_GUEST_WHAT, tinyGuestMissing());

describe.skipIf(cannotRun)('libvirtd + tiny guest fixtures', () => {
  let lv: Libvirtd | undefined;
  let guest: TinyGuest | undefined;
  let skipReason = '';
  const t: Record<string, number> = {};

  beforeAll(async () => {
    const t0 = Date.now();
    const timed = async <T>(key: string, p: Promise<T>): Promise<T> => {
      try {
        return await p;
      } finally {
        t[key] = Date.now() - t0;
      }
    };
    // independent: build/look up the guest while libvirtd starts
    const [g, l] = await Promise.allSettled([timed('guest', tinyGuest()), timed('libvirtd', startLibvirtd())]);
    if (l.status === 'fulfilled') lv = l.value;
    else skipReason = (l.reason as Error).message;
    if (g.status === 'fulfilled') guest = g.value;
    else skipReason ||= `tiny guest: ${(g.reason as Error).message}`;
  }, 120_000);

  afterAll(async () => {
    const t0 = Date.now();
    await lv?.stop();
    t.stop = Date.now() - t0;
    if (t.running === undefined && t.kill === undefined) return;
    console.log(
      `libvirtd-fixture timings (ms): tinyGuest=${t.guest} startLibvirtd=${t.libvirtd} (${lv?.isolation})` +
        ` create→running=${t.running} running→marker=${t.marker} destroy=${t.destroy}` +
        ` | kill=${t.kill} restart=${t.restart} reattached→running=${t.reattached} suspend+resume=${t.suspendResume}` +
        ` destroy-after-restart=${t.destroyAfterRestart} | stop=${t.stop}`,
    );
  }, 30_000);

  it('boots a transient tiny guest to its marker and destroys it', async (ctx) => {
    if (missing(`a running libvirtd and the tiny guest (${skipReason})`, !lv || !guest)) ctx.skip(skipReason);
    const { uri, dir } = lv!;
    const g = guest!;
    const name = `tiny-${process.pid}`;
    const consoleLog = join(dir, `${name}.console.log`);
    const xmlFile = join(dir, `${name}.xml`);
    writeFileSync(
      xmlFile,
      tinyDomainXml({ name, uuid: randomUUID(), kernel: g.kernel, initrd: g.initrd, consoleLog, memoryMiB: 128 }),
    );

    const t0 = Date.now();
    await lv!.virsh(['create', xmlFile], 20_000);
    // running: bounded poll of domstate
    let state = '';
    await pollUntil(
      async () => (state = (await lv!.virsh(['domstate', name], 5000)).stdout.trim()) === 'running',
      10_000,
      50,
    );
    expect(state).toBe('running');
    const t1 = Date.now();
    t.running = t1 - t0;

    // marker on the serial console: bounded
    let text = '';
    await pollUntil(
      () => (text = existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : '').includes(g.marker),
      20_000,
      50,
    );
    expect(text, `console log of ${name} (uri ${uri})`).toContain(g.marker);
    const t2 = Date.now();
    t.marker = t2 - t1;

    await lv!.virsh(['destroy', name], 20_000);
    t.destroy = Date.now() - t2;
    const list = (await lv!.virsh(['list', '--all', '--name'], 5000)).stdout;
    expect(list.split('\n').map((s) => s.trim())).not.toContain(name);
    await expect(lv!.virsh(['domstate', name], 5000)).rejects.toThrow(/failed to get domain|Domain not found/i);
  }, 60_000);

  it('kill() leaves the guest running; restart() re-attaches to it', async (ctx) => {
    if (missing(`a running libvirtd and the tiny guest (${skipReason})`, !lv || !guest)) ctx.skip(skipReason);
    const l = lv!;
    const g = guest!;
    const name = `tiny-kr-${process.pid}`;
    const uuid = randomUUID();
    const xmlFile = join(l.dir, `${name}.xml`);
    writeFileSync(
      xmlFile,
      tinyDomainXml({
        name,
        uuid,
        kernel: g.kernel,
        initrd: g.initrd,
        consoleLog: join(l.dir, `${name}.console.log`),
        memoryMiB: 96,
      }),
    );
    const domstate = async () => (await l.virsh(['domstate', uuid], 5000)).stdout.trim();
    /** bounded poll of domstate until `want` */
    const waitState = async (want: string, ms: number) => {
      let state = '';
      await pollUntil(async () => (state = await domstate().catch((e: Error) => e.message)) === want, ms, 50);
      return state;
    };

    await l.virsh(['create', xmlFile], 20_000);
    expect(await waitState('running', 10_000)).toBe('running');
    const pidFile =
      l.isolation === 'namespace' ? join(l.dir, 'run', 'qemu', `${name}.pid`) : `/run/libvirt/qemu/${name}.pid`;
    const qemuPid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
    expect(alive(qemuPid), `qemu ${qemuPid} from ${pidFile}`).toBe(true);
    const oldLibvirtd = l.libvirtdPid;

    let t0 = Date.now();
    await l.kill();
    t.kill = Date.now() - t0;
    expect(alive(oldLibvirtd)).toBe(false);
    expect(alive(qemuPid), 'the guest survives the libvirtd crash').toBe(true);
    expect(alive(l.virtlogdPid), 'virtlogd survives the libvirtd crash').toBe(true);
    await expect(l.virsh(['version'], 5000)).rejects.toThrow();

    t0 = Date.now();
    await l.restart();
    t.restart = Date.now() - t0;
    expect(l.libvirtdPid).not.toBe(oldLibvirtd);
    expect(alive(l.libvirtdPid)).toBe(true);
    t0 = Date.now();
    expect(await waitState('running', 10_000)).toBe('running');
    t.reattached = Date.now() - t0;
    expect(alive(qemuPid), 'the same QEMU process').toBe(true);
    // the monitor really is re-attached: suspend/resume go through QMP
    t0 = Date.now();
    await l.virsh(['suspend', uuid], 10_000);
    expect(await waitState('paused', 5000)).toBe('paused');
    await l.virsh(['resume', uuid], 10_000);
    expect(await waitState('running', 5000)).toBe('running');
    t.suspendResume = Date.now() - t0;

    t0 = Date.now();
    await l.virsh(['destroy', uuid], 20_000);
    t.destroyAfterRestart = Date.now() - t0;
    await expect(l.virsh(['domstate', uuid], 5000)).rejects.toThrow(/failed to get domain|Domain not found/i);
    await pollUntil(() => !alive(qemuPid), 5000, 50);
    expect(alive(qemuPid)).toBe(false);
  }, 90_000);
});
