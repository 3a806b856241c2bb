/**
 * The loopback test bed for the HA coordinator (issue 13, "Tests against real peers"): N hosts (a vdsmd each, with
 * mutual TLS, on the libvirt test driver over its node file), a BMC per host (ipmi_sim whose power-off kills that
 * host), an OpenSSH sshd per host whose command restarts that host's vdsmd, etcd (1 or 3 members), coordinator
 * replicas as processes, and a sampler that asks every host what it runs. Hosts and VMs are added through the
 * coordinator's CLI, as an admin would. `withBed` stops everything it started, also when the scenario fails, and
 * then prints every replica's audit trail and log end and each vdsmd's log end. With `topology: 'netns'` the same
 * parts run as machines in network namespaces, each VM a QEMU guest under its host's own libvirtd (README.md, "The
 * netns topology"; bed-net.ts, net-faults.ts, bed-qemu.ts).
 * No vitest here.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePki, type Pki } from '../support/pki.js';
import { waitFor } from '../support/wait.js';
import { engineDomainXml } from '../support/vm-xml.js';
import { tinyDomainXml, tinyGuest, type TinyGuest } from '../fixtures/tiny-guest.js';
import { BedEtcd } from './bed-etcd.js';
import { BedHost, type HostMachine, VDSM_PORT } from './bed-host.js';
import { BedNet, type NetNode } from './bed-net.js';
import { HostQemu, netnsInode } from './bed-qemu.js';
import { Bmc, IPMI_PORT } from './bmc.js';
import { bmcPassword, NetFaults } from './net-faults.js';
import { issue } from './pki.js';
import { Porthole } from './porthole.js';
import { ADMIN, API_PORT, type AuditEntry, type Policy, Replica } from './replica.js';
import { Sampler } from './sampler.js';
import { BedSshd, keygen, RestartDesk } from './sshd.js';
import type { TlsFiles } from './vdsm-ask.js';

export interface BedOptions {
  hosts: number;
  /** Coordinator replicas (default 1); 0: no etcd and no coordinator (the bed's own parts alone). */
  replicas?: number;
  etcdMembers?: 1 | 3;
  /** The etcd lease TTL of the leader key ([coordinator] ttl), seconds. */
  ttlSeconds?: number;
  tickMs?: number;
  policy: Policy;
  /** Start with the sampler on (default true). */
  sample?: boolean;
  /** 'loopback' (default): processes on 127.0.0.1; 'netns': machines in network namespaces (root only). */
  topology?: 'loopback' | 'netns';
  /**
   * What runs a VM: 'qemu' (the netns default), the tiny guest under QEMU and a libvirtd per host; 'test' (loopback
   * always), libvirt's test driver inside vdsmd over the host's node file.
   */
  guests?: 'qemu' | 'test';
}

export interface BedVm {
  id: string;
  name: string;
  xml: string;
  ha: boolean;
  priority: number;
  memMiB: number;
  /** Where the bed started it. */
  home?: string;
}

export interface HostView {
  id: string;
  state: string | null;
  vms: number;
}
export interface VmView {
  id: string;
  name: string;
  state: string;
  owner: string | null;
  everUp: boolean;
}

const SSH_KEY_REF = 'bed-ssh-key';
const bmcPasswordRef = (host: string) => `${host}-bmc`;

export class Bed {
  readonly hosts: BedHost[] = [];
  private readonly byName = new Map<string, BedHost>();
  readonly bmcs = new Map<string, Bmc>();
  readonly sshds = new Map<string, BedSshd>();
  readonly replicas: Replica[] = [];
  readonly vms = new Map<string, BedVm>();
  readonly desk: RestartDesk;
  readonly sampler: Sampler;
  readonly client: TlsFiles;
  etcd: BedEtcd | undefined;
  /** The netns topology's networks and its faults (undefined on loopback). */
  net: BedNet | undefined;
  faults: NetFaults | undefined;
  /** The harness's portholes into the namespaces, by namespace (netns topology). */
  readonly portholes = new Map<string, Porthole>();
  /** The tiny guest every VM boots, when the guests are QEMU. */
  private guest: TinyGuest | undefined;

  private constructor(
    readonly dir: string,
    readonly pki: Pki,
    readonly secretsDir: string,
    private readonly o: BedOptions,
  ) {
    this.client = {
      key: readFileSync(pki.file('engine-key.pem')),
      cert: readFileSync(pki.file('engine.pem')),
      ca: readFileSync(pki.file('ca.pem')),
    };
    this.desk = new RestartDesk(this.byName);
    this.sampler = new Sampler(
      () =>
        this.hosts.map((h) => ({
          name: h.name,
          endpoint: () => h.endpoint,
          ...(h.qemu ? { netns: h.qemu.netnsInode } : {}),
        })),
      this.client,
      () => [...this.vms.values()].flatMap((v) => (this.guest ? [{ id: v.id, file: this.consoleOf(v.id)! }] : [])),
    );
  }

  static async start(o: BedOptions): Promise<Bed> {
    const dir = mkdtempSync(join(tmpdir(), 'coordinator-bed-'));
    // QEMU runs as libvirt's unprivileged user and writes each guest's console below (the secrets stay 0700)
    chmodSync(dir, 0o711);
    const pki = makePki();
    const secretsDir = join(dir, 'secrets');
    mkdirSync(secretsDir, { mode: 0o700 });
    const bed = new Bed(dir, pki, secretsDir, o);
    try {
      await bed.build();
    } catch (err) {
      await bed.stop();
      throw err;
    }
    return bed;
  }

  private async build(): Promise<void> {
    const o = this.o;
    const replicas = o.replicas ?? 1;
    if (o.topology === 'netns') {
      this.net = await BedNet.start({ hosts: o.hosts, etcd: replicas ? (o.etcdMembers ?? 1) : 0, replicas });
      this.faults = new NetFaults(this, this.net);
      if ((o.guests ?? 'qemu') === 'qemu') {
        this.guest = await tinyGuest();
        mkdirSync(this.consoleDir, { mode: 0o755 });
        chmodSync(this.consoleDir, 0o755);
      }
    }
    // One SSH key for the coordinator (unencrypted, as its secrets directory holds it), authorized on every host.
    const clientKey = this.sshClientKey;
    await keygen(clientKey);
    this.secret(SSH_KEY_REF, readFileSync(clientKey, 'utf8'));
    for (let i = 1; i <= o.hosts; i++) {
      const name = `host${i}`;
      const node = this.net?.host(i);
      const machine = node && (await this.machine(node));
      const qemu = node && this.guest ? new HostQemu(name, node.ns, netnsInode(node.ns)) : undefined;
      await qemu?.boot();
      const host = new BedHost({
        name,
        dir: this.dir,
        pki: this.pki,
        identity: issue(this.pki, name, 'host'),
        client: this.client,
        domainXml: (id) => this.vms.get(id)?.xml,
        ...(machine ? { machine } : {}),
        ...(qemu ? { qemu } : {}),
      });
      this.hosts.push(host);
      this.byName.set(name, host);
      await host.start();
      const password = bmcPassword(name);
      this.secret(bmcPasswordRef(name), `${password}\n`);
      const bmcNode = this.net?.bmcs[i - 1];
      const bmcAt = bmcNode && { address: bmcNode.ip, port: IPMI_PORT, wrap: bmcNode.wrap };
      this.bmcs.set(name, await Bmc.start(host, password, bmcAt));
      const sshdAt = node && { address: node.ip, port: 22, wrap: node.wrap };
      const sshd = await BedSshd.start(name, `${clientKey}.pub`, this.desk.dir, sshdAt);
      this.sshds.set(name, sshd);
      host.alsoRuns(sshd);
    }
    if (o.sample !== false) this.sampler.start();
    if (replicas === 0) return;
    const etcdNodes = this.net?.etcd.map((n) => ({ address: n.ip, wrap: n.wrap }));
    this.etcd = await BedEtcd.start(o.etcdMembers ?? 1, etcdNodes);
    const coordinator = issue(this.pki, 'coordinator', 'client');
    for (let i = 0; i < replicas; i++) {
      const node = this.net?.replicas[i];
      const place = node && { wrap: node.wrap, socket: (await this.porthole(node, '127.0.0.1', API_PORT)).path };
      const r = new Replica({
        name: `replica-${String.fromCharCode(97 + i)}`,
        dir: this.dir,
        endpoints: this.etcd.endpoints,
        secretsDir: this.secretsDir,
        tls: { key: coordinator.key, cert: coordinator.cert, ca: this.pki.file('ca.pem') },
        ttlSeconds: o.ttlSeconds ?? 5,
        tickMs: o.tickMs ?? 500,
        policy: o.policy,
        ...(place ? { place } : {}),
      });
      this.replicas.push(r);
      await r.start();
    }
  }

  /** The harness's porthole into `node`'s namespace, to `address`:`port` there, opened. */
  private async porthole(node: NetNode, address: string, port: number): Promise<Porthole> {
    const p = new Porthole(this.net!, node.ns, join(this.dir, `${node.name}.sock`), address, port);
    this.portholes.set(node.ns, p);
    await p.open();
    return p;
  }

  /** A host of the netns bed as a machine: its power takes every process of its namespace and its links. */
  private async machine(node: NetNode): Promise<HostMachine> {
    const net = this.net!;
    const hole = await this.porthole(node, node.ip, VDSM_PORT);
    return {
      wrap: node.wrap,
      address: node.ip,
      endpoint: { path: hole.path },
      boot: async () => {
        await net.linksUp(node);
        await hole.open();
      },
      halt: async () => {
        await net.killEverything(node.ns);
        await net.linksDown(node);
      },
    };
  }

  private secret(name: string, content: string): void {
    const file = join(this.secretsDir, name);
    writeFileSync(file, content, { mode: 0o600 });
    chmodSync(file, 0o600);
  }

  /** The coordinator's SSH private key (also in the secrets directory). */
  get sshClientKey(): string {
    return join(this.dir, 'ssh-client');
  }

  host(name: string): BedHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no bed host ${name}`);
    return h;
  }

  bmc(name: string): Bmc {
    const b = this.bmcs.get(name);
    if (!b) throw new Error(`no BMC for ${name}`);
    return b;
  }

  /** The replica that says it leads (waits for one, bounded). */
  async leader(timeoutMs = 60_000): Promise<Replica> {
    return waitFor(
      'a replica to lead',
      async () => {
        for (const r of this.replicas) if (!r.isFrozen() && (await r.health())?.role === 'leader') return r;
        return undefined;
      },
      timeoutMs,
      500,
    );
  }

  /** A replica that answers (the leader when there is one). */
  async anyReplica(): Promise<Replica> {
    for (const r of this.replicas) if (!r.isFrozen() && (await r.health())?.role === 'leader') return r;
    const r = this.replicas.find((x) => !x.isFrozen() && x.running());
    if (!r) throw new Error('no replica runs');
    return r;
  }

  /** `host add` for every bed host through the CLI: its vdsmd, its BMC (ipmilan via a proxy), its sshd. */
  async addHosts(): Promise<void> {
    const r = await this.anyReplica();
    for (const h of this.hosts) {
      const bmc = this.bmc(h.name);
      const ssh = this.sshds.get(h.name)!;
      const agent = [
        'type=ipmilan',
        `address=${bmc.address}`,
        'username=admin',
        `password-ref=${bmcPasswordRef(h.name)}`,
        `option=ipport=${bmc.port}`,
        'option=lanplus=1',
        'option=cipher=3',
        'option=power_wait=0',
      ].join(',');
      await r.cliOk(
        ['host', 'add', h.name, '--address', h.address, '--port', String(h.port), '--agent', agent]
          .concat(['--ssh-user', ssh.user, '--ssh-port', String(ssh.port)])
          .concat(['--ssh-host-key', ssh.hostKeySha256, '--ssh-key-ref', SSH_KEY_REF]),
      );
    }
  }

  /** Whether the VMs are QEMU guests (their processes and consoles are then watched too). */
  get qemuGuests(): boolean {
    return this.guest !== undefined;
  }

  /** Where the QEMU guests write their serial consoles (one file per VM, whichever host runs it). */
  get consoleDir(): string {
    return join(this.dir, 'consoles');
  }

  /** The console file of VM `id` (QEMU guests only). */
  consoleOf(id: string): string | undefined {
    const vm = this.vms.get(id);
    return vm && this.guest ? this.consoleFile(vm.name) : undefined;
  }

  private consoleFile(name: string): string {
    return join(this.consoleDir, `${name}.log`);
  }

  /** A VM's domain XML: the tiny guest under QEMU, else a small engine-like domain for the test driver. */
  private domainXml(name: string, memMiB: number): { uuid: string; xml: string } {
    if (!this.guest) return engineDomainXml({ name, memoryMiB: memMiB });
    const uuid = randomUUID();
    const g = this.guest;
    const consoleLog = this.consoleFile(name);
    return {
      uuid,
      xml: tinyDomainXml({ name, uuid, kernel: g.kernel, initrd: g.initrd, consoleLog, memoryMiB: memMiB }),
    };
  }

  /**
   * A VM the bed knows (its XML, its console) but has defined nowhere yet; `refusedByLibvirt`: a definition libvirt
   * refuses at start (an unknown on_crash action).
   */
  vm(name: string, opts: { ha: boolean; priority?: number; memMiB?: number; refusedByLibvirt?: boolean }): BedVm {
    const memMiB = opts.memMiB ?? (this.guest ? 96 : 64);
    const d = this.domainXml(name, memMiB);
    const xml = opts.refusedByLibvirt ? d.xml.replace('</domain>', '<on_crash>explode</on_crash></domain>') : d.xml;
    const vm: BedVm = { id: d.uuid, name, xml, ha: opts.ha, priority: opts.priority ?? 50, memMiB };
    this.vms.set(vm.id, vm);
    return vm;
  }

  /** `vm define` through the CLI (see `vm` for the options). */
  async defineVm(
    name: string,
    opts: { ha: boolean; priority?: number; memMiB?: number; refusedByLibvirt?: boolean },
  ): Promise<BedVm> {
    const vm = this.vm(name, opts);
    const xml = vm.xml;
    const file = join(this.dir, `${name}.xml`);
    writeFileSync(file, xml);
    const r = await this.anyReplica();
    await r.cliOk(
      ['vm', 'define', '--xml', file]
        .concat(opts.ha ? ['--ha'] : [])
        .concat(opts.priority === undefined ? [] : ['--priority', String(opts.priority)]),
    );
    return vm;
  }

  /**
   * Many VMs at once through the HTTP API (POST /vms, the route `vm define` calls), 8 at a time: for the scale
   * scenario, where a CLI process per VM would take minutes.
   */
  async defineVmsByApi(plans: { name: string; ha: boolean; priority?: number; memMiB?: number }[]): Promise<BedVm[]> {
    const r = await this.anyReplica();
    const vms = plans.map((p) => this.vm(p.name, p));
    await inBatches(vms, 8, (vm) => r.post('/vms', { xml: vm.xml, ha: vm.ha, priority: vm.priority, by: ADMIN }));
    await this.until(
      'the leader to know every VM defined',
      async () => {
        const known = new Set((await this.vmViews(r).catch(() => [])).map((v) => v.id));
        return vms.every((v) => known.has(v.id));
      },
      120_000,
      1000,
    );
    return vms;
  }

  /** Many `vm start VM --host H` through the HTTP API (POST /vms/:id/start), 8 at a time. */
  async startVmsByApi(vms: BedVm[], host: string): Promise<void> {
    const r = await this.anyReplica();
    await inBatches(vms, 8, async (vm) => {
      vm.home = host;
      await r.post(`/vms/${vm.id}/start`, { host, by: ADMIN });
    });
  }

  /** `vm start VM --host H` through the CLI. */
  async startVm(vm: BedVm, host: string): Promise<void> {
    vm.home = host;
    const r = await this.anyReplica();
    await r.cliOk(['vm', 'start', vm.id, '--host', host]);
  }

  async hostViews(r?: Replica): Promise<HostView[]> {
    return (r ?? (await this.anyReplica())).get<HostView[]>('/hosts');
  }

  async vmViews(r?: Replica): Promise<VmView[]> {
    return (r ?? (await this.anyReplica())).get<VmView[]>('/vms');
  }

  /** Throws at once if the sampler saw a VM on two hosts: every wait of a scenario checks it. */
  assertNoDouble(): void {
    const d = this.sampler.doubles();
    if (d.length) throw new Error(`a VM ran on two hosts at once (sampler): ${d.slice(0, 10).join('; ')}`);
  }

  /** Waits (bounded) for `probe`, checking the sampler's verdict every round. */
  async until<T>(what: string, probe: () => T | Promise<T>, timeoutMs: number, everyMs = 500) {
    return waitFor(
      what,
      async () => {
        this.assertNoDouble();
        return probe();
      },
      timeoutMs,
      everyMs,
    );
  }

  /** Every host Up at the leader, every started VM running on its home there and Up there in the sampler. */
  async settle(timeoutMs = 90_000): Promise<void> {
    const leader = await this.leader();
    const started = [...this.vms.values()].filter((v) => v.home);
    let why = 'not looked yet';
    const ok = await this.until(
      'every host Up and every started VM running where the bed put it',
      async () => {
        why = await this.unsettled(leader, started);
        return why === '' || undefined;
      },
      timeoutMs,
      1000,
    ).catch((err: Error) => err);
    if (ok instanceof Error) throw new Error(`${ok.message}: ${why}`, { cause: ok });
  }

  /** '' when settled, else what is not. */
  private async unsettled(leader: Replica, started: BedVm[]): Promise<string> {
    const hosts = await this.hostViews(leader).catch(() => []);
    const notUp = hosts.filter((h) => h.state !== 'Up').map((h) => `${h.id} ${h.state}`);
    if (hosts.length !== this.hosts.length || notUp.length) return `hosts: ${hosts.length} known, not Up: ${notUp}`;
    const byId = new Map((await this.vmViews(leader).catch(() => [])).map((v) => [v.id, v]));
    const off = started.filter((v) => byId.get(v.id)?.state !== 'running' || byId.get(v.id)?.owner !== v.home);
    if (off.length)
      return `${off.length} VMs not running where put, e.g. ${off
        .slice(0, 5)
        .map((v) => `${v.name} (${v.home}): ${JSON.stringify(byId.get(v.id) ?? 'unknown')}`)
        .join('; ')}`;
    const s = this.sampler.samples.at(-1);
    const missing = started.filter((v) => !s?.hosts[v.home!]?.up?.includes(v.id));
    return missing.length ? `${missing.length} VMs not listed Up where put, e.g. ${missing[0]!.name}` : '';
  }

  /** Everything that says what happened, for a failed scenario. */
  async report(): Promise<string> {
    const out: string[] = ['==== coordinator bed report ===='];
    for (const r of this.replicas) {
      r.thaw();
      const ev = r.running() ? await r.cli(['events', '--json', '--limit', '1000']) : undefined;
      out.push(`---- ${r.name} (port ${r.port}, pid ${r.pid ?? 'gone'}): events --json`);
      out.push(ev ? `${ev.stdout}${ev.stderr}`.trim() : '(not running)');
      // the decisions and warnings (the routine "Up on" and request lines would hide them)
      const lines = r
        .log()
        .split('\n')
        .filter((l) => /"level":[4-6]0|"decision"/.test(l) && !/ Up on host/.test(l));
      out.push(`---- ${r.name}: its last decisions and warnings`, ...lines.slice(-150).map((l) => l.slice(0, 400)));
    }
    for (const h of this.hosts) {
      out.push(`---- ${h.name} (port ${h.port}): history`, ...h.history);
      out.push(`---- ${h.name}: BMC transitions ${JSON.stringify(this.bmcs.get(h.name)?.transitions() ?? [])}`);
      out.push(`---- ${h.name}: vdsmd log end`, h.logTail(3000));
      if (this.net) out.push(`---- ${h.name}: sshd log end`, this.sshds.get(h.name)?.log() ?? '');
    }
    if (this.net)
      out.push(
        `---- netns bed ${this.net.nsPrefix}*: management ${this.net.mgmtPrefix}.0/24, BMC ${this.net.bmcPrefix}.0/24`,
      );
    out.push(`---- restart requests ${JSON.stringify(this.desk.served)}`);
    out.push(`---- BMC watcher errors ${JSON.stringify([...this.bmcs.values()].flatMap((b) => b.errors))}`);
    out.push(
      `---- sampler: ${this.sampler.samples.length} samples, unknown ${JSON.stringify(this.sampler.unknownCounts())}`,
    );
    out.push(`---- sampler doubles ${JSON.stringify(this.sampler.doubles().slice(0, 20))}`);
    return out.join('\n');
  }

  /** Every audit trail, by replica (for the timeline); a replica that does not answer has none. */
  async auditTrails(): Promise<Map<string, AuditEntry[]>> {
    const out = new Map<string, AuditEntry[]>();
    for (const r of this.replicas) if (!r.isFrozen() && r.running()) out.set(r.name, await r.events().catch(() => []));
    return out;
  }

  /** Stops everything the bed started, by pid, and removes its files. Safe to call twice. */
  async stop(): Promise<void> {
    // a frozen machine would hold every stop up until its SIGKILL: continue them first
    if (this.net) for (const n of this.net.hosts) await this.net.signalEverything(n.ns, 'SIGCONT').catch(() => []);
    await this.sampler.stop();
    for (const r of this.replicas) await r.stop().catch(() => undefined);
    await this.desk.stop();
    for (const b of this.bmcs.values()) await b.stop().catch(() => undefined);
    for (const s of this.sshds.values()) await s.close().catch(() => undefined);
    for (const h of this.hosts) await h.stop().catch(() => undefined);
    await this.etcd?.stop();
    for (const p of this.portholes.values()) await p.close().catch(() => undefined);
    await this.net?.stop();
    this.pki.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function inBatches<T>(items: T[], size: number, each: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

/** Runs `scenario` on a fresh bed; on failure prints the bed's report; always stops the bed. */
export async function withBed(o: BedOptions, scenario: (bed: Bed) => Promise<void>): Promise<void> {
  const bed = await Bed.start(o);
  try {
    await scenario(bed);
    bed.assertNoDouble();
  } catch (err) {
    console.log(await bed.report().catch((e: unknown) => `report failed: ${String(e)}`));
    throw err;
  } finally {
    await bed.stop();
  }
}
