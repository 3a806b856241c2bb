/**
 * The network of the 3-host cluster test bed (test/cluster/netns.ts) for real: hosts in network
 * namespaces on one bridge, cutting and restoring a host, moving the engine address, a private
 * libvirtd (test/fixtures/libvirtd.ts) and its QEMU inside a host namespace, and a clean stop().
 * Needs root and iproute2; the libvirtd case also libvirt-daemon-system, qemu-system-x86 and tini.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLibvirtd, type Libvirtd } from '../fixtures/libvirtd.js';
import { TINY_GUEST_WHAT, tinyDomainXml, tinyGuest, tinyGuestMissing } from '../fixtures/tiny-guest.js';
import { waitForLog } from '../support/logs.js';
import { missing } from '../support/peers.js';
import { execBounded, IP } from './netns-ip.js';
import { startNetwork, type NetHost, type TestNetwork } from './netns.js';

const ENGINE_PORT = 54321;
/** argv: ip port name; answers every connection with `name` */
const SERVER_JS = `const [ip, port, name] = process.argv.slice(1);
require('net').createServer((s) => s.end(name + '\\n')).listen(Number(port), ip, () => console.log('listening'));`;
/** argv: ip port; prints what the server sends */
const CLIENT_JS = `const [ip, port] = process.argv.slice(1);
const s = require('net').connect(Number(port), ip);
let got = '';
s.on('data', (d) => (got += d));
s.on('end', () => { process.stdout.write(got); process.exit(0); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
setTimeout(() => { console.error('timeout'); process.exit(2); }, 2000);`;

const isRoot = process.getuid?.() === 0;

/** `ip netns identify <pid>`: the name of the pid's network namespace ('' for the root one). */
async function netnsOf(pid: number): Promise<string> {
  return (await execBounded(IP, ['netns', 'identify', String(pid)], { timeoutMs: 5000 })).stdout.trim();
}

describe.skipIf(
  missing('root (network namespaces)', !isRoot) || missing(`ip (${IP}, Debian iproute2)`, !existsSync(IP)),
)('cluster test bed network (netns)', () => {
  let net: TestNetwork;
  let scratch: string;
  let h1: NetHost, h2: NetHost, h3: NetHost;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'vdsm-testbed-net-'));
    const t0 = Date.now();
    net = await startNetwork({ hosts: 3 });
    console.log(
      `testbed-net: startNetwork(3 hosts) ${Date.now() - t0} ms, subnet ${net.subnet}, namespaces ${net.nsPrefix}*`,
    );
    [h1, h2, h3] = net.hosts as [NetHost, NetHost, NetHost];
  });

  afterAll(async () => {
    await net?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const ping = (from: NetHost, to: string) => net.exec(from.ns, ['ping', '-c1', '-W1', to], { timeoutMs: 5000 });

  it('connects hosts and gateway, behind a root-namespace blackhole; cut() isolates a host, restore() reconnects it', async () => {
    const routes = await execBounded(IP, ['route', 'show', net.subnet]);
    expect(routes.stdout).toMatch(/^blackhole /m);
    // nothing of the test subnet in the root namespace besides that route
    expect((await execBounded(IP, ['-4', 'addr', 'show'])).stdout).not.toContain(`${net.prefix}.`);

    let t = Date.now();
    expect((await ping(h1, h2.ip)).code).toBe(0);
    expect((await ping(h1, net.gateway)).code).toBe(0);
    const pingMs = Date.now() - t;

    t = Date.now();
    await net.cut(2);
    const cutMs = Date.now() - t;
    expect((await ping(h1, h2.ip)).code).not.toBe(0);
    expect((await ping(h2, net.gateway)).code).not.toBe(0);
    expect((await ping(h1, h3.ip)).code).toBe(0);

    t = Date.now();
    await net.restore(2);
    const restoreMs = Date.now() - t;
    t = Date.now();
    expect((await ping(h1, h2.ip)).code).toBe(0);
    expect((await ping(h2, net.gateway)).code).toBe(0);
    console.log(
      `testbed-net: 2 pings ${pingMs} ms, cut ${cutMs} ms, restore ${restoreMs} ms, 2 pings after restore ${Date.now() - t} ms`,
    );
  });

  it('moves the engine address between hosts', async () => {
    const serve = async (host: NetHost) => {
      const log = join(scratch, `server-h${host.id}.log`);
      const child = net.spawnIn(
        host.ns,
        [process.execPath, '-e', SERVER_JS, net.engineIp, String(ENGINE_PORT), `h${host.id}`],
        { stdout: log },
      );
      await waitForLog(log, /^listening$/m, 5000, `the engine server on host ${host.id}`, { everyMs: 20 });
      return child;
    };
    const askEngine = async (from: NetHost) => {
      const r = await net.exec(from.ns, [process.execPath, '-e', CLIENT_JS, net.engineIp, String(ENGINE_PORT)], {
        timeoutMs: 5000,
      });
      return r.code === 0 ? r.stdout.trim() : `error ${r.code}: ${r.stderr.trim()}`;
    };

    let t = Date.now();
    await net.addEngineAddress(2);
    const server2 = await serve(h2);
    const upOn2Ms = Date.now() - t;
    expect(await askEngine(h3)).toBe('h2');

    t = Date.now();
    server2.kill('SIGTERM');
    await net.removeEngineAddress(2);
    await net.addEngineAddress(1);
    const server1 = await serve(h1);
    const moveMs = Date.now() - t;
    expect(await askEngine(h3)).toBe('h1');
    expect(await askEngine(h2)).toBe('h1');
    server1.kill('SIGTERM');
    await net.removeEngineAddress(1);
    expect((await ping(h3, net.engineIp)).code).not.toBe(0);
    console.log(`testbed-net: engine address + server up on host2 ${upOn2Ms} ms, moved to host1 ${moveMs} ms`);
  });

  it.skipIf(
    missing('libvirtd (/usr/sbin/libvirtd, Debian libvirt-daemon-system)', !existsSync('/usr/sbin/libvirtd')) ||
      missing(TINY_GUEST_WHAT, tinyGuestMissing()),
  )("runs libvirtd and its QEMU inside host1's namespace", async () => {
    let lv: Libvirtd | undefined;
    try {
      const t0 = Date.now();
      const [guest, started] = await Promise.all([tinyGuest(), startLibvirtd({ netns: h1.ns })]);
      lv = started;
      const setupMs = Date.now() - t0;
      expect(await netnsOf(lv.libvirtdPid)).toBe(h1.ns);
      expect(await netnsOf(lv.virtlogdPid)).toBe(h1.ns);
      expect((await lv.virsh(['version'])).stdout).toMatch(/libvirt/i);

      const name = `tiny-net-${process.pid}`;
      const xmlFile = join(lv.dir, `${name}.xml`);
      writeFileSync(
        xmlFile,
        tinyDomainXml({
          name,
          uuid: randomUUID(),
          kernel: guest.kernel,
          initrd: guest.initrd,
          consoleLog: join(lv.dir, `${name}.console.log`),
        }),
      );
      let t = Date.now();
      await lv.virsh(['create', xmlFile]);
      const createMs = Date.now() - t;
      const qemuPid = Number.parseInt(readFileSync(join(lv.dir, 'run', 'qemu', `${name}.pid`), 'utf8'), 10);
      expect(await netnsOf(qemuPid)).toBe(h1.ns);

      t = Date.now();
      await lv.virsh(['destroy', name]);
      const destroyMs = Date.now() - t;
      t = Date.now();
      await lv.stop();
      console.log(
        `testbed-net: tinyGuest+startLibvirtd(netns) ${setupMs} ms, virsh create ${createMs} ms, destroy ${destroyMs} ms, libvirtd stop ${Date.now() - t} ms`,
      );
    } finally {
      await lv?.stop();
    }
  });

  it('stop() removes every namespace of the test bed and the blackhole route', async () => {
    const t = Date.now();
    await net.stop();
    const stopMs = Date.now() - t;
    const left = (await execBounded(IP, ['netns', 'list'])).stdout
      .split('\n')
      .filter((l) => l.startsWith(net.nsPrefix));
    expect(left).toEqual([]);
    expect((await execBounded(IP, ['route', 'show', net.subnet])).stdout.trim()).toBe('');
    await net.stop(); // idempotent
    console.log(`testbed-net: stop ${stopMs} ms`);
  });
});
