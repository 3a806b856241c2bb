/**
 * The coordinator bed's netns topology (test/coordinator-bed/README.md, "The netns topology") proven part by part,
 * without any coordinator decision: who reaches whom on the two networks, what a BMC power-off and power-on do to
 * a host, a cut management link with its BMC still reachable, a one-way cut, a frozen host, a dead BMC, a replica
 * cut from etcd, and a teardown that leaves nothing behind. Needs root (network namespaces) and the built dist/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Bed } from './coordinator-bed/bed.js';
import { type NetNode, netnsBedMissing } from './coordinator-bed/bed-net.js';
import { runsOn } from './coordinator-bed/sampler.js';
import { type AskError, askVdsm, vmList } from './coordinator-bed/vdsm-ask.js';
import { IP, execBounded, listNamespaces } from './cluster/netns-ip.js';
import { alive } from './support/proc-pids.js';
import { waitFor } from './support/wait.js';

let bed: Bed;
const net = () => bed.net!;
const faults = () => bed.faults!;
let started = 0;

/**
 * A TCP connection from `from`'s namespace: 'connected' (with the first line the peer sent, if any), or why not.
 * With `banner` it waits for the peer's first line up to its bound (sshd forks for each connection: slow on a busy
 * machine); without, a peer silent 300 ms after the connect is 'connected' (vdsmd, or a frozen host whose kernel
 * still accepts), which more time could only confirm.
 */
const PROBE = `
const [host, port, ms, banner] = process.argv.slice(1);
const s = require('net').connect(Number(port), host);
const t = setTimeout(() => { console.log(banner === '1' ? 'connected, no banner' : 'timeout'); process.exit(2); }, Number(ms));
s.on('connect', () => { if (banner !== '1') setTimeout(() => { console.log('connected'); process.exit(0); }, 300); });
s.on('data', (d) => { console.log('connected ' + d.toString().split('\\n')[0]); process.exit(0); });
s.on('error', (e) => { console.log(e.code); process.exit(1); });`;

async function tcp(from: NetNode, ip: string, port: number, o: { banner?: boolean } = {}): Promise<string> {
  const ms = o.banner ? 15_000 : 1500;
  const r = await net().exec(
    from.ns,
    [process.execPath, '-e', PROBE, ip, String(port), String(ms), o.banner ? '1' : '0'],
    {
      timeoutMs: ms + 5000,
    },
  );
  return r.stdout.trim() || `exit ${r.code}: ${r.stderr.trim()}`;
}

/** The ICMP echo requests `n`'s namespace has received so far (its /proc/net/snmp). */
async function echoesIn(n: NetNode): Promise<number> {
  const r = await net().exec(n.ns, ['cat', '/proc/net/snmp']);
  const [head, values] = r.stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const i = head!.split(/\s+/).indexOf('InEchos');
  return Number(values!.split(/\s+/)[i]);
}

const ping = (from: NetNode, to: string) =>
  net().exec(from.ns, ['ping', '-c', '3', '-i', '0.2', '-W', '1', to], { timeoutMs: 10_000 });

const answers = (host: string) =>
  vmList(bed.host(host).endpoint, bed.client, 3000).then(
    () => 'answers',
    (e: AskError) => e.why,
  );

const linkState = async (n: NetNode, dev: string) =>
  (await execBounded(IP, ['-n', n.ns, 'link', 'show', 'dev', dev], { timeoutMs: 5000 })).stdout;

/** The state letter of /proc/PID/stat ('T' stopped), or 'gone'. */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return 'gone';
  }
}

describe.skipIf(netnsBedMissing())('the netns bed', () => {
  beforeAll(async () => {
    started = Date.now();
    bed = await Bed.start({ topology: 'netns', hosts: 3, replicas: 2, etcdMembers: 3, policy: {}, sample: false });
  }, 180_000);

  // what the bed's peers said, for a failed test (the bed's own report: replicas' audit trails, hosts' logs)
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && bed) console.log(await bed.report().catch((e: unknown) => String(e)));
  }, 60_000);

  afterAll(async () => {
    await bed?.stop();
    console.log(`coordinator-netbed: ${((Date.now() - started) / 1000).toFixed(1)} s from bed start to teardown`);
  }, 60_000);

  it('puts hosts, etcd and replicas on a management network the root namespace cannot reach, and the BMCs on another', async () => {
    const n = net();
    const routes = (await execBounded(IP, ['-4', 'route', 'show'], { timeoutMs: 5000 })).stdout;
    expect(routes).toContain(`blackhole ${n.mgmtPrefix}.0/24`);
    expect(routes).toContain(`blackhole ${n.bmcPrefix}.0/24`);
    for (const r of n.replicas)
      for (const h of n.hosts) {
        expect(await tcp(r, h.ip, 54321), `${r.name} → ${h.name} vdsmd`).toBe('connected');
        expect(await tcp(r, h.ip, 22, { banner: true }), `${r.name} → ${h.name} sshd`).toMatch(/^connected SSH-2\.0-/);
      }
    // a replica has no route to the BMC network: it fences through a proxy host
    expect((await ping(n.replicas[0]!, n.bmcs[0]!.ip)).code).not.toBe(0);
    // a host reaches its peers' BMCs
    const status = await faults().ipmi('host1', 'status', 'host2');
    expect(status.stdout).toContain('Chassis Power is on');
    // the harness sees every vdsmd through its porthole, and each replica is connected to etcd
    for (const h of bed.hosts) expect(await answers(h.name)).toBe('answers');
    for (const r of bed.replicas)
      await waitFor(`${r.name} connected to etcd`, async () => (await r.health())?.etcd === true, 30_000, 250);
  }, 120_000);

  it('powers a host off through its BMC from a peer: every process of it killed, its links down; power on brings them back', async () => {
    const h1 = net().host(1);
    const before = await net().pids(h1.ns);
    const vdsmd = bed.host('host1').pid!;
    const sshd = bed.sshds.get('host1')!.pid!;
    expect(before).toEqual(expect.arrayContaining([vdsmd, sshd]));
    expect(before.length).toBeGreaterThanOrEqual(3); // vdsmd, sshd, the porthole

    await faults().powerOff('host1');
    await waitFor('no process left in h1', async () => (await net().pids(h1.ns)).length === 0, 15_000, 100);
    expect(before.filter((p) => alive(p))).toEqual([]);
    await waitFor(
      "host1's links down",
      async () => /state DOWN/.test(await linkState(h1, 'eth0')) && /state DOWN/.test(await linkState(h1, 'eth1')),
      10_000,
      100,
    );
    expect(bed.bmc('host1').transitions()).toEqual(['power 0']);
    expect(await tcp(net().replicas[0]!, h1.ip, 54321)).not.toBe('connected');
    expect(await answers('host1')).toBe('refused');

    await faults().powerOn('host1');
    expect(await linkState(h1, 'eth0')).toMatch(/LOWER_UP/);
    expect(await linkState(h1, 'eth1')).toMatch(/LOWER_UP/);
    expect(await answers('host1')).toBe('answers');
    expect(await tcp(net().replicas[1]!, h1.ip, 22, { banner: true })).toMatch(/^connected SSH-/);
    expect(bed.host('host1').pid).not.toBe(vdsmd);
    expect(bed.bmc('host1').transitions()).toEqual(['power 0', 'power 1']);
    expect(bed.bmc('host1').errors).toEqual([]);
  }, 120_000);

  it('freezes a host by stopping every process of it, and thaws it', async () => {
    const h2 = net().host(2);
    const stopped = await faults().freezeHost('host2');
    try {
      expect(stopped).toEqual(expect.arrayContaining([bed.host('host2').pid!, bed.sshds.get('host2')!.pid!]));
      await waitFor('every process of host2 stopped', () => stopped.every((p) => procState(p) === 'T'), 5000, 50);
      expect(await answers('host2')).toBe('timeout');
      // the kernel still answers for it, as for a hung machine: TCP connects, nothing reads
      expect(await tcp(net().replicas[0]!, h2.ip, 22)).toBe('connected');
    } finally {
      await faults().thawHost('host2');
    }
    await waitFor('every process of host2 running', () => stopped.every((p) => procState(p) !== 'T'), 5000, 50);
    expect(await answers('host2')).toBe('answers');
  }, 90_000);

  it("runs a VM as a QEMU guest of its host's namespace: it outlives vdsmd killed, a crash is its own, the power takes it", async () => {
    const h3 = bed.host('host3');
    const look = async () => (await bed.sampler.sampleOnce()).hosts;
    const start = async (name: string) => {
      const vm = bed.vm(name, { ha: false });
      const at = Date.now();
      await askVdsm(
        h3.endpoint,
        bed.client,
        'VM.create',
        { vmID: vm.id, vmParams: { vmId: vm.id, xml: vm.xml } },
        20_000,
      );
      const pid = await waitFor(
        `a QEMU of ${name} in host3`,
        async () => (await look()).host3?.qemu?.[vm.id],
        20_000,
        200,
      );
      await waitFor(
        `${name}'s guest to answer`,
        async () => (await look()) && bed.sampler.firstAnswer(vm.id, at),
        60_000,
        250,
      );
      return { vm, pid };
    };
    const [a, b] = [await start('n-guest-a'), await start('n-guest-b')];
    expect(await net().pids(net().host(3).ns)).toEqual(expect.arrayContaining([a.pid, b.pid]));
    const hosts = await look();
    expect(Object.keys(hosts).filter((h) => runsOn(hosts[h]!, a.vm.id))).toEqual(['host3']);
    expect(hosts.host3?.up).toEqual(expect.arrayContaining([a.vm.id, b.vm.id]));

    // vdsmd killed and started again: the guests ran on, and it recovers them from its libvirtd
    await h3.restart();
    expect([alive(a.pid), alive(b.pid)]).toEqual([true, true]);
    const listed = async () => Object.fromEntries((await h3.list()).map((v) => [v.vmId, v.status]));
    await waitFor('both listed Up again', async () => Object.values(await listed()).join() === 'Up,Up', 30_000, 250);
    expect(bed.sampler.qemuPids(a.vm.id, 'host3')).toEqual([a.pid]);

    // a guest crashing (its QEMU killed) is Down on a host that runs on
    await h3.crashVm(b.vm.id);
    await waitFor('n-guest-b Down', async () => (await listed())[b.vm.id] === 'Down', 20_000, 250);
    expect(alive(a.pid)).toBe(true);

    // the power takes the other one with libvirtd; powered on, a fresh libvirtd runs nothing
    const lvDir = h3.qemu!.dir!;
    await faults().powerOff('host3');
    try {
      expect(alive(a.pid)).toBe(false);
      expect(existsSync(lvDir), "the dead libvirtd's scratch directory removed").toBe(false);
      const off = await look();
      expect(off.host3).toMatchObject({ unknown: expect.any(String), qemu: {} });
    } finally {
      await faults().powerOn('host3'); // the next tests need host3
    }
    expect(await h3.list()).toEqual([]);
  }, 180_000);

  it("cuts a host's management link both ways and leaves its BMC reachable through a peer", async () => {
    const h1 = net().host(1);
    await faults().cutHost('host1', 'both');
    try {
      expect(await tcp(net().replicas[0]!, h1.ip, 54321)).not.toBe('connected');
      expect((await ping(net().host(3), h1.ip)).code).not.toBe(0);
      expect((await faults().ipmi('host1', 'status', 'host3')).stdout).toContain('Chassis Power is on');
      // the harness still sees the host through its porthole (a VM still running there would be counted)
      expect(await answers('host1')).toBe('answers');
    } finally {
      await faults().restoreHost('host1');
    }
    expect(await tcp(net().replicas[0]!, h1.ip, 54321)).toBe('connected');
  }, 90_000);

  it('cuts a one-way link one way only: what the host sends still arrives, what it should receive does not', async () => {
    const [h1, h2] = [net().host(1), net().host(2)];
    await faults().cutHost('host1', 'in');
    try {
      const at2 = await echoesIn(h2);
      const at1 = await echoesIn(h1);
      expect((await ping(h1, h2.ip)).code, 'no reply reaches host1').not.toBe(0);
      expect(await echoesIn(h2), "host1's requests reached host2").toBeGreaterThanOrEqual(at2 + 3);
      expect((await ping(h2, h1.ip)).code).not.toBe(0);
      expect(await echoesIn(h1), "host2's requests did not reach host1").toBe(at1);
    } finally {
      await faults().restoreHost('host1');
    }
    await faults().cutHost('host1', 'out');
    try {
      const at2 = await echoesIn(h2);
      const at1 = await echoesIn(h1);
      expect((await ping(h2, h1.ip)).code, "host1's replies do not leave it").not.toBe(0);
      expect(await echoesIn(h1), "host2's requests reached host1").toBeGreaterThanOrEqual(at1 + 3);
      expect((await ping(h1, h2.ip)).code).not.toBe(0);
      expect(await echoesIn(h2), "host1's requests did not leave it").toBe(at2);
    } finally {
      await faults().restoreHost('host1');
    }
    expect((await ping(h1, h2.ip)).code).toBe(0);
    expect((await ping(h2, h1.ip)).code).toBe(0);
  }, 90_000);

  it('kills a BMC, which then answers nobody, and restores it reading the power as it is', async () => {
    await faults().killBmc('host3');
    expect((await faults().ipmi('host3', 'status', 'host1')).code).not.toBe(0);
    await faults().restoreBmc('host3');
    expect((await faults().ipmi('host3', 'status', 'host1')).stdout).toContain('Chassis Power is on');
    expect(bed.host('host3').alive()).toBe(true);
  }, 90_000);

  it('cuts a replica from every etcd member while it still reaches the hosts, and restores it', async () => {
    const [c1, c2] = net().replicas;
    await faults().cutReplicaFromEtcd('replica-b');
    try {
      for (const e of net().etcd) {
        expect(await tcp(c2!, e.ip, 2379), `replica-b → ${e.name}`).not.toBe('connected');
        expect(await tcp(c1!, e.ip, 2379), `replica-a → ${e.name}`).toBe('connected');
      }
      expect(await tcp(c2!, net().host(1).ip, 54321)).toBe('connected');
    } finally {
      await faults().restoreReplica('replica-b');
    }
    expect(await tcp(c2!, net().etcd[0]!.ip, 2379)).toBe('connected');
  }, 90_000);

  it('tears down every process, namespace and route it made', async () => {
    const n = net();
    const pids = (await Promise.all(n.namespaces.map((ns) => n.pids(ns)))).flat();
    expect(pids.length).toBeGreaterThan(10);
    await bed.stop();
    expect(pids.filter((p) => alive(p))).toEqual([]);
    expect((await listNamespaces()).filter((ns) => ns.startsWith(n.nsPrefix))).toEqual([]);
    const routes = (await execBounded(IP, ['-4', 'route', 'show'], { timeoutMs: 5000 })).stdout;
    expect(routes).not.toContain(`${n.mgmtPrefix}.0/24`);
    expect(routes).not.toContain(`${n.bmcPrefix}.0/24`);
  }, 90_000);
});
