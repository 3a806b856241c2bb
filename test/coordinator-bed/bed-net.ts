/**
 * The coordinator bed's two networks in namespaces (topology 'netns', see README.md): a management network (br0)
 * with the hosts, the etcd members and the replicas, and a BMC network (br1) with one namespace per BMC and a second
 * NIC of every host. Both bridges live in one switch namespace; both /24s are blackholed in the root namespace and
 * listed in a leak record (test/cluster/netns.ts and netns-leaks.ts give the parts). Needs root, iproute2, iptables.
 * No vitest here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { IP, execBounded, ip, ipQuiet, parsePids, type ExecResult } from '../cluster/netns-ip.js';
import {
  destroyBed,
  destroyBedSync,
  killInside,
  reapStaleBeds,
  removeRecord,
  type BedRecord,
} from '../cluster/netns-leaks.js';
import { addBridge, plug, reserveSubnet, waitLinkUp } from '../cluster/netns.js';
import { missing } from '../support/peers.js';
import { alive, signal, startTimeOf, stopPids } from '../support/proc-pids.js';

export const IPTABLES = '/usr/sbin/iptables';
const MGMT = 'br0';
const BMCNET = 'br1';

export interface NetNode {
  /** h1, b1, e1, c1 */
  name: string;
  ns: string;
  /** On the management network (a BMC's is on the BMC network). */
  ip: string;
  /** A host's address on the BMC network (its second NIC, eth1). */
  bmcNetIp?: string;
  /** `ip netns exec NS`: the argv prefix that runs a command there. */
  wrap: string[];
}

export type Way = 'in' | 'out' | 'both';

/** True, and said why, when this machine cannot run the netns bed (test/support/peers.ts: a failure in CI). */
export const netnsBedMissing = (): boolean =>
  missing('root (network namespaces)', process.getuid?.() !== 0) ||
  missing(`ip (${IP}, Debian iproute2)`, !existsSync(IP)) ||
  missing(`iptables (${IPTABLES}, Debian iptables)`, !existsSync(IPTABLES));

export class BedNet {
  readonly hosts: NetNode[] = [];
  readonly bmcs: NetNode[] = [];
  readonly etcd: NetNode[] = [];
  readonly replicas: NetNode[] = [];
  private readonly children = new Set<ChildProcess>();
  /** Nodes whose management cable is unplugged (cut): their eth0 has no carrier until restored. */
  private readonly unplugged = new Set<string>();
  private stopping: Promise<void> | undefined;
  private readonly onExit = (): void => {
    for (const c of this.children) signal(c.pid, 'SIGKILL');
    destroyBedSync(this.record.namespaces, this.record.subnet || undefined, this.record.moreSubnets);
    removeRecord(this.record);
  };
  mgmtPrefix = '';
  bmcPrefix = '';

  private constructor(
    readonly nsPrefix: string,
    private readonly record: BedRecord,
  ) {}

  get switchNs(): string {
    return `${this.nsPrefix}sw`;
  }

  /** Every namespace of this bed, the switch's last. */
  get namespaces(): string[] {
    return this.record.namespaces;
  }

  static async start(o: { hosts: number; etcd: number; replicas: number }): Promise<BedNet> {
    if (process.getuid?.() !== 0) throw new Error('the netns bed needs root (network namespaces)');
    if (o.hosts < 1 || o.hosts > 50 || o.etcd > 9 || o.replicas > 9) throw new Error('bed-net: too many nodes');
    await reapStaleBeds();
    const tag = randomBytes(2).toString('hex');
    const nsPrefix = `vts${process.pid}-${tag}-`;
    const names = [
      ...Array.from({ length: o.hosts }, (_, i) => [`h${i + 1}`, `b${i + 1}`]).flat(),
      ...Array.from({ length: o.etcd }, (_, i) => `e${i + 1}`),
      ...Array.from({ length: o.replicas }, (_, i) => `c${i + 1}`),
    ];
    const record: BedRecord = {
      ownerPid: process.pid,
      ownerStart: startTimeOf(process.pid),
      tag,
      subnet: '',
      namespaces: [...names.map((n) => nsPrefix + n), `${nsPrefix}sw`],
    };
    const net = new BedNet(nsPrefix, record);
    process.once('exit', net.onExit);
    try {
      net.mgmtPrefix = await reserveSubnet(record);
      net.bmcPrefix = await reserveSubnet(record, true);
      await net.build(o);
    } catch (err) {
      await net.stop();
      throw new Error(`cannot build the bed's networks: ${(err as Error).message}`, { cause: err });
    }
    return net;
  }

  private node(name: string, ip: string, bmcNetIp?: string): NetNode {
    const ns = this.nsPrefix + name;
    return { name, ns, ip, ...(bmcNetIp ? { bmcNetIp } : {}), wrap: [IP, 'netns', 'exec', ns] };
  }

  private async build(o: { hosts: number; etcd: number; replicas: number }): Promise<void> {
    const sw = this.switchNs;
    await ip(['netns', 'add', sw]);
    await ip(['-n', sw, 'link', 'set', 'lo', 'up']);
    await addBridge(sw, MGMT, `${this.mgmtPrefix}.254`);
    await addBridge(sw, BMCNET, `${this.bmcPrefix}.254`);
    const m = this.mgmtPrefix;
    const b = this.bmcPrefix;
    for (let i = 1; i <= o.hosts; i++) {
      this.hosts.push(this.node(`h${i}`, `${m}.${i}`, `${b}.${100 + i}`));
      this.bmcs.push(this.node(`b${i}`, `${b}.${i}`));
    }
    for (let i = 1; i <= o.etcd; i++) this.etcd.push(this.node(`e${i}`, `${m}.${100 + i}`));
    for (let i = 1; i <= o.replicas; i++) this.replicas.push(this.node(`c${i}`, `${m}.${200 + i}`));
    const onMgmt = [...this.hosts, ...this.etcd, ...this.replicas];
    await Promise.all(
      [...onMgmt, ...this.bmcs].map(async (n) => {
        await ip(['netns', 'add', n.ns]);
        await ip(['-n', n.ns, 'link', 'set', 'lo', 'up']);
      }),
    );
    // veth creation in one switch namespace: one at a time (parallel `ip link add` there gains little)
    for (const n of onMgmt) await plug(sw, MGMT, `m${n.name}`, n.ns, 'eth0', n.ip);
    for (const n of this.bmcs) await plug(sw, BMCNET, `b${n.name}`, n.ns, 'eth0', n.ip);
    for (const h of this.hosts) await plug(sw, BMCNET, `b${h.name}`, h.ns, 'eth1', h.bmcNetIp!);
  }

  host(i: number): NetNode {
    const h = this.hosts[i - 1];
    if (!h) throw new Error(`bed-net: no host ${i}`);
    return h;
  }

  private check(ns: string): void {
    if (!this.record.namespaces.includes(ns)) throw new Error(`${ns} is not a namespace of bed ${this.nsPrefix}*`);
    if (this.stopping) throw new Error(`bed ${this.nsPrefix}* is stopped`);
  }

  /** `argv` in `ns`, bounded (default 10 s); never rejects. */
  exec(ns: string, argv: string[], o: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ExecResult> {
    this.check(ns);
    return execBounded(IP, ['netns', 'exec', ns, ...argv], {
      timeoutMs: o.timeoutMs ?? 10_000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...o.env },
    });
  }

  /** `argv` in `ns` as a child (its pid is argv's process), output appended to `stdout`; stop() kills it. */
  spawnIn(ns: string, argv: string[], o: { env?: Record<string, string>; stdout?: string } = {}): ChildProcess {
    this.check(ns);
    const out = o.stdout ? openSync(o.stdout, 'a', 0o644) : undefined;
    try {
      const child = spawn(IP, ['netns', 'exec', ns, ...argv], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...o.env },
        stdio: ['ignore', out ?? 'ignore', out ?? 'ignore'],
      });
      child.on('error', () => undefined);
      this.children.add(child);
      child.once('exit', () => this.children.delete(child));
      return child;
    } finally {
      if (out !== undefined) closeSync(out);
    }
  }

  /** Every process in `ns` now. */
  async pids(ns: string): Promise<number[]> {
    this.check(ns);
    const r = await execBounded(IP, ['netns', 'pids', ns], { timeoutMs: 5000 });
    if (r.code !== 0) throw new Error(`ip netns pids ${ns}: ${r.stderr.trim()}`);
    return parsePids(r.stdout).filter((p) => p !== process.pid);
  }

  /** SIGKILL to everything in `ns`, again until nothing is left (a process may fork meanwhile); bounded. */
  async killEverything(ns: string): Promise<void> {
    this.check(ns);
    for (let round = 0; round < 10; round++) {
      if ((await killInside(ns)).length === 0) return;
    }
    const left = await this.pids(ns);
    if (left.length) throw new Error(`processes ${left.join(', ')} in ${ns} survived 10 rounds of SIGKILL`);
  }

  /**
   * `sig` to everything in `ns`; for SIGSTOP again until a listing shows nothing new (a process that forked between
   * the listing and its stop). The pids signalled.
   */
  async signalEverything(ns: string, sig: NodeJS.Signals): Promise<number[]> {
    const done = new Set<number>();
    for (let round = 0; round < 10; round++) {
      const fresh = (await this.pids(ns)).filter((p) => !done.has(p));
      if (!fresh.length) break;
      for (const p of fresh) {
        signal(p, sig);
        done.add(p);
      }
      if (sig !== 'SIGSTOP') break;
    }
    return [...done];
  }

  /** The node's own interfaces down (a machine without power): its routes over them go with them. */
  async linksDown(n: NetNode): Promise<void> {
    for (const dev of n.bmcNetIp ? ['eth0', 'eth1'] : ['eth0']) await ip(['-n', n.ns, 'link', 'set', dev, 'down']);
  }

  /** Its interfaces up again, carrier seen (but on a cable that is cut), stale neighbour entries forgotten. */
  async linksUp(n: NetNode): Promise<void> {
    const devs = n.bmcNetIp ? ['eth0', 'eth1'] : ['eth0'];
    for (const dev of devs) await ip(['-n', n.ns, 'link', 'set', dev, 'up']);
    for (const dev of devs) if (dev !== 'eth0' || !this.unplugged.has(n.name)) await waitLinkUp(n.ns, dev);
    await this.forget(n);
  }

  /** Unplugs the node's management cable (its switch port down): nothing passes either way. */
  async cut(n: NetNode): Promise<void> {
    this.check(n.ns);
    this.unplugged.add(n.name);
    await ip(['-n', this.switchNs, 'link', 'set', `m${n.name}`, 'down']);
  }

  /** Plugs it in again (resolves once the port forwards). */
  async restore(n: NetNode): Promise<void> {
    this.check(n.ns);
    await ip(['-n', this.switchNs, 'link', 'set', `m${n.name}`, 'up']);
    this.unplugged.delete(n.name);
    // a powered-off host has no carrier: the port is plugged in again, and forwards once the host is back
    const flags = /<([^>]*)>/.exec(await ip(['-n', n.ns, 'link', 'show', 'dev', 'eth0']))?.[1]?.split(',') ?? [];
    if (flags.includes('UP')) await waitLinkUp(this.switchNs, `m${n.name}`);
    await this.forget(n);
  }

  /** ARP entries left INCOMPLETE by traffic during a cut are retried only later: forget them on both ends. */
  private async forget(n: NetNode): Promise<void> {
    const peers = [...this.hosts, ...this.etcd, ...this.replicas, ...this.bmcs].filter((x) => x !== n);
    await ipQuiet(['-n', n.ns, 'neigh', 'flush', 'all']);
    await Promise.all(
      peers.flatMap((p) =>
        [n.ip, n.bmcNetIp].filter(Boolean).map((a) => ipQuiet(['-n', p.ns, 'neigh', 'flush', 'to', a!])),
      ),
    );
  }

  /**
   * Drops IPv4 on the node's management NIC one way or both, by iptables in its namespace ('in': it receives nothing
   * there, 'out': it sends nothing); only to and from `peers` when given. ARP is not IP: it still passes.
   */
  async drop(n: NetNode, way: Way, peers?: string[]): Promise<void> {
    const rules: string[][] = [];
    const to = peers ?? [undefined];
    for (const p of to) {
      if (way !== 'out') rules.push(['-A', 'INPUT', '-i', 'eth0', ...(p ? ['-s', p] : []), '-j', 'DROP']);
      if (way !== 'in') rules.push(['-A', 'OUTPUT', '-o', 'eth0', ...(p ? ['-d', p] : []), '-j', 'DROP']);
    }
    for (const r of rules) await this.iptables(n, r);
  }

  /** Removes every drop of `drop` (the node's INPUT and OUTPUT chains hold nothing else). */
  async undrop(n: NetNode): Promise<void> {
    await this.iptables(n, ['-F', 'INPUT']);
    await this.iptables(n, ['-F', 'OUTPUT']);
  }

  private async iptables(n: NetNode, args: string[]): Promise<void> {
    const r = await this.exec(n.ns, [IPTABLES, '-w', '5', ...args]);
    if (r.code !== 0) throw new Error(`iptables ${args.join(' ')} in ${n.ns}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  /** Kills every child and everything in the namespaces, deletes them, then the routes. Idempotent, never throws. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await stopPids(
          [...this.children].map((c) => c.pid).filter((p): p is number => !!p && alive(p)),
          1000,
        );
        await destroyBed(this.record.namespaces, this.record.subnet || undefined, this.record.moreSubnets);
        removeRecord(this.record);
      } catch {
        /* never throws; the exit handler and the next reapStaleBeds() are the fallbacks */
      } finally {
        process.removeListener('exit', this.onExit);
      }
    })();
    return this.stopping;
  }
}
