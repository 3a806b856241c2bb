/**
 * A throw-away network for cluster tests: every "host" is a Linux network namespace, all plugged
 * into one bridge that lives in a "switch" namespace. Needs root and iproute2 (/usr/sbin/ip).
 *
 *   switch ns  vts<pid>-<tag>-sw : bridge br0 with address <prefix>.254 (the gateway),
 *                                  ports p1..pN (switch-side ends of the veth pairs)
 *   host ns    vts<pid>-<tag>-h<i> : eth0 = <prefix>.<i>/24, default route via the gateway
 *
 * The gateway address answers pings but routes nowhere: the switch namespace has no other link,
 * so nothing sent inside the test bed can leave it. Nothing of the subnet exists in the root
 * namespace; a blackhole route for the subnet there (added before anything else, removed last)
 * keeps root-namespace packets for test addresses off the real network too.
 *
 * The subnet is a random /24 of 10.213.0.0/16 not yet in the root routing table; adding the
 * blackhole route is the reservation (a parallel test bed that picked the same /24 gets EEXIST
 * and picks again). Leaks of test processes that died without stop() are reaped at the next
 * startNetwork() (see netns-leaks.ts) and, best effort, on process 'exit'.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { alive, signal, startTimeOf, stopPids } from '../support/proc-pids.js';
import { sleep } from '../support/wait.js';
import { destroyBed, destroyBedSync, reapStaleBeds, removeRecord, writeRecord, type BedRecord } from './netns-leaks.js';
import { IP, execBounded, ip, ipQuiet, type ExecResult } from './netns-ip.js';

export type { ExecResult } from './netns-ip.js';

export interface NetHost {
  /** 1-based; hosts[0] has id 1 */
  id: number;
  /** network namespace name, for `ip netns exec` */
  ns: string;
  /** <prefix>.<id> */
  ip: string;
  /** the host's interface inside its namespace */
  ifname: string;
}

export interface TestNetwork {
  /** e.g. '10.213.57.0/24' */
  subnet: string;
  /** e.g. '10.213.57' */
  prefix: string;
  /** <prefix>.254, the bridge in the switch namespace */
  gateway: string;
  /** <prefix>.100, reserved for the engine VM (see addEngineAddress) */
  engineIp: string;
  hosts: NetHost[];
  /** the switch namespace */
  switchNs: string;
  /** every namespace of this test bed starts with it, e.g. 'vts1234-0a1f-' */
  nsPrefix: string;
  /** `ip netns exec <ns> ...argv` (execFile, no shell); bounded (default 10 s); never rejects. */
  exec(ns: string, argv: string[], opts?: { timeoutMs?: number; env?: Record<string, string> }): Promise<ExecResult>;
  /** Spawn `ip netns exec <ns> ...argv` (the child's pid is argv's process); stdout+stderr appended to `stdout`. stop() kills it. */
  spawnIn(ns: string, argv: string[], opts?: { env?: Record<string, string>; stdout?: string }): ChildProcess;
  /** Unplug the host: its switch port goes down, no packet to or from it passes. */
  cut(hostId: number): Promise<void>;
  /** Plug it in again (resolves once the port is up). */
  restore(hostId: number): Promise<void>;
  /** engineIp becomes a secondary address on that host's interface; the others forget its old MAC. */
  addEngineAddress(hostId: number): Promise<void>;
  /** Remove engineIp from that host (a no-op if it does not have it). */
  removeEngineAddress(hostId: number): Promise<void>;
  /** Kill spawned processes (and anything else left inside the namespaces), delete the namespaces, the route. Idempotent, bounded, never throws. */
  stop(): Promise<void>;
}

const SUBNET_BASE = '10.213';
const GATEWAY_OCTET = 254;
const ENGINE_OCTET = 100;
const MAX_HOSTS = 99; // host addresses must stay below the engine's
const HOST_IF = 'eth0';
const BRIDGE = 'br0';
const MAX_SUBNET_TRIES = 64;

/** Third octets of every 10.213.x.y already in the root routing tables. */
async function usedThirdOctets(): Promise<Set<number>> {
  const out = await ip(['-4', 'route', 'show', 'table', 'all']);
  const used = new Set<number>();
  for (const m of out.matchAll(/\b10\.213\.(\d{1,3})\.\d{1,3}/g)) used.add(Number(m[1]));
  return used;
}

/**
 * Reserve a free /24 by adding its blackhole route (EEXIST means a parallel test bed took it): the bed's `subnet`, or
 * with `more` one of its `moreSubnets` (a bed of two networks). Returns its first three octets.
 */
export async function reserveSubnet(bed: BedRecord, more = false): Promise<string> {
  const used = await usedThirdOctets();
  const set = (subnet: string) => {
    if (!more) bed.subnet = subnet;
    else bed.moreSubnets = [...(bed.moreSubnets ?? []), subnet];
  };
  for (let i = 0; i < MAX_SUBNET_TRIES; i++) {
    const third = randomInt(0, 256);
    if (used.has(third)) continue;
    used.add(third);
    const prefix = `${SUBNET_BASE}.${third}`;
    set(`${prefix}.0/24`);
    writeRecord(bed); // first the record, then the route: a crash in between leaks nothing unknown
    if (await ipQuiet(['route', 'add', 'blackhole', `${prefix}.0/24`])) return prefix;
    if (more) bed.moreSubnets = bed.moreSubnets!.filter((s) => s !== `${prefix}.0/24`);
  }
  if (!more) bed.subnet = '';
  writeRecord(bed);
  throw new Error(`no free /24 in ${SUBNET_BASE}.0.0/16 after ${MAX_SUBNET_TRIES} tries`);
}

async function createSwitch(sw: string, gateway: string): Promise<void> {
  await ip(['netns', 'add', sw]);
  await ip(['-n', sw, 'link', 'set', 'lo', 'up']);
  await addBridge(sw, BRIDGE, gateway);
}

/** A bridge in the switch namespace with `gateway`/24 on it. */
export async function addBridge(sw: string, bridge: string, gateway: string): Promise<void> {
  // STP off and no forward delay: a port forwards as soon as it is up (restore() is immediate)
  await ip(['-n', sw, 'link', 'add', 'name', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  await ip(['-n', sw, 'addr', 'add', `${gateway}/24`, 'dev', bridge]);
  await ip(['-n', sw, 'link', 'set', bridge, 'up']);
}

function portOf(id: number): string {
  return `p${id}`;
}

/** A cable from `port` of the switch's `bridge` to `ifname` in `ns` (which exists), with `address`/24 there, up. */
export async function plug(sw: string, bridge: string, port: string, ns: string, ifname: string, address: string) {
  await ip(['-n', sw, 'link', 'add', 'name', port, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns]);
  await ip(['-n', sw, 'link', 'set', port, 'master', bridge]);
  await ip(['-n', sw, 'link', 'set', port, 'up']);
  await ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', ifname]);
  await ip(['-n', ns, 'link', 'set', ifname, 'up']);
}

async function createHost(sw: string, h: NetHost, gateway: string): Promise<void> {
  await ip(['netns', 'add', h.ns]);
  await ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
  await plug(sw, BRIDGE, portOf(h.id), h.ns, h.ifname, h.ip);
  await ip(['-n', h.ns, 'route', 'add', 'default', 'via', gateway]);
}

/** Wait (bounded) until `ip -n ns link show dev` reports LOWER_UP. */
export async function waitLinkUp(ns: string, dev: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let i = 0; i < 300 && Date.now() < deadline; i++) {
    last = (await execBounded(IP, ['-n', ns, 'link', 'show', 'dev', dev], { timeoutMs: 2000 })).stdout;
    if (/[<,]LOWER_UP[,>]/.test(last) && !/NO-CARRIER/.test(last)) return;
    await sleep(10);
  }
  throw new Error(`${dev} in ${ns} not up after ${timeoutMs} ms: ${last.trim()}`);
}

export async function startNetwork(opts: { hosts: number }): Promise<TestNetwork> {
  const n = opts.hosts;
  if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS)
    throw new Error(`hosts must be an integer 1..${MAX_HOSTS}, got ${n}`);
  if (process.getuid?.() !== 0) throw new Error('startNetwork needs root (network namespaces)');
  await reapStaleBeds();

  const tag = randomBytes(2).toString('hex');
  const nsPrefix = `vts${process.pid}-${tag}-`;
  const switchNs = `${nsPrefix}sw`;
  const bed: BedRecord = {
    ownerPid: process.pid,
    ownerStart: startTimeOf(process.pid),
    tag,
    subnet: '',
    namespaces: [...Array.from({ length: n }, (_, i) => `${nsPrefix}h${i + 1}`), switchNs],
  };
  const children = new Set<ChildProcess>();
  const onExit = (): void => {
    for (const c of children) if (c.pid) signal(c.pid, 'SIGKILL');
    destroyBedSync(bed.namespaces, bed.subnet || undefined, bed.moreSubnets);
    removeRecord(bed);
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        await stopPids(
          [...children].map((c) => c.pid).filter((p): p is number => !!p && alive(p)),
          1000,
        );
        await destroyBed(bed.namespaces, bed.subnet || undefined);
        removeRecord(bed);
      } catch {
        /* never throws; the exit handler and the next reapStaleBeds() are the fallbacks */
      } finally {
        process.removeListener('exit', onExit);
      }
    })();
    return stopping;
  };

  let prefix: string;
  try {
    prefix = await reserveSubnet(bed);
  } catch (e) {
    await stop();
    throw e;
  }
  const gateway = `${prefix}.${GATEWAY_OCTET}`;
  const engineIp = `${prefix}.${ENGINE_OCTET}`;
  const hosts: NetHost[] = bed.namespaces
    .slice(0, n)
    .map((ns, i) => ({ id: i + 1, ns, ip: `${prefix}.${i + 1}`, ifname: HOST_IF }));
  try {
    await createSwitch(switchNs, gateway);
    await Promise.all(hosts.map((h) => createHost(switchNs, h, gateway)));
  } catch (e) {
    await stop();
    throw new Error(`cannot build the test network ${bed.subnet}: ${(e as Error).message}`, { cause: e });
  }

  const ours = new Set(bed.namespaces);
  const checkNs = (ns: string): void => {
    if (!ours.has(ns)) throw new Error(`${ns} is not a namespace of test bed ${nsPrefix}*`);
    if (stopping) throw new Error(`test bed ${nsPrefix}* is stopped`);
  };
  const host = (id: number): NetHost => {
    const h = hosts[id - 1];
    if (!h) throw new Error(`no host ${id} (1..${n})`);
    return h;
  };
  const forgetEngineMac = async (): Promise<void> => {
    await Promise.all(
      [switchNs, ...hosts.map((h) => h.ns)].map((ns) => ipQuiet(['-n', ns, 'neigh', 'flush', 'to', engineIp])),
    );
  };

  return {
    subnet: bed.subnet,
    prefix,
    gateway,
    engineIp,
    hosts,
    switchNs,
    nsPrefix,

    exec: (ns, argv, o = {}) => {
      checkNs(ns);
      return execBounded(IP, ['netns', 'exec', ns, ...argv], {
        timeoutMs: o.timeoutMs ?? 10_000,
        env: { ...process.env, ...o.env },
      });
    },

    spawnIn: (ns, argv, o = {}) => {
      checkNs(ns);
      const out = o.stdout ? openSync(o.stdout, 'a', 0o644) : undefined;
      try {
        const child = spawn(IP, ['netns', 'exec', ns, ...argv], {
          env: { ...process.env, ...o.env },
          stdio: ['ignore', out ?? 'ignore', out ?? 'ignore'],
        });
        child.on('error', () => undefined); // visible through exitCode
        children.add(child);
        child.once('exit', () => children.delete(child));
        return child;
      } finally {
        if (out !== undefined) closeSync(out);
      }
    },

    cut: async (id) => {
      checkNs(host(id).ns);
      await ip(['-n', switchNs, 'link', 'set', portOf(id), 'down']);
    },

    restore: async (id) => {
      const h = host(id);
      checkNs(h.ns);
      await ip(['-n', switchNs, 'link', 'set', portOf(id), 'up']);
      await waitLinkUp(switchNs, portOf(id));
      await waitLinkUp(h.ns, h.ifname);
      // ARP entries left INCOMPLETE/FAILED by traffic during the cut would only be retried at the next
      // probe timer (up to ~1 s later): forget them so the first packet resolves at once
      await ipQuiet(['-n', h.ns, 'neigh', 'flush', 'dev', h.ifname]);
      await Promise.all(
        [switchNs, ...hosts.filter((o) => o !== h).map((o) => o.ns)].map((ns) =>
          ipQuiet(['-n', ns, 'neigh', 'flush', 'to', h.ip]),
        ),
      );
    },

    addEngineAddress: async (id) => {
      const h = host(id);
      checkNs(h.ns);
      await ip(['-n', h.ns, 'addr', 'add', `${engineIp}/24`, 'dev', h.ifname]);
      await forgetEngineMac();
    },

    removeEngineAddress: async (id) => {
      const h = host(id);
      checkNs(h.ns);
      const has = await ip(['-n', h.ns, '-4', 'addr', 'show', 'dev', h.ifname, 'to', `${engineIp}/32`]);
      if (has.trim()) await ip(['-n', h.ns, 'addr', 'del', `${engineIp}/24`, 'dev', h.ifname]);
      await forgetEngineMac();
    },

    stop,
  };
}
