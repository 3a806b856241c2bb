/**
 * The hosted-engine cluster test bed: N hosts, each a network namespace running its own sanlock daemon,
 * libvirtd (QEMU, libvirt's sanlock lock manager), vdsmd, HA broker and HA agent; shared storage that every
 * host sees through its own cutfs mount; the engine VM is a tiny QEMU guest. A stand-in for the engine's web
 * service (its health page) follows the engine VM: it is served on the engine's address from the namespace of
 * the host whose QEMU runs the VM, and faults can take the VM's network or its service down.
 *
 * A sampler looks every 100 ms at every host's libvirt (through its unix socket) and at the HA broker of the
 * host that runs the VM; it records which hosts run the engine VM, and which could not tell. Used by the
 * failure-scenario tests and by bench/failover.
 *
 * The sampler fails closed. A host whose libvirt errors, does not answer within QUERY_TIMEOUT_MS, or still has
 * the previous sample's query pending is recorded as `unknown` for that sample, never as "not running", unless
 * /proc shows no QEMU of the engine VM in its namespace at all (a libvirtd busy starting a domain that sanlock
 * will refuse is slow to answer; that QEMU is never exec'd): then it is known not running (`byProc`). Every
 * host is asked at once, and a sample's time is taken before the questions, so a sample says "at `at` or a
 * little after". A host is skipped (known not running) only once it is `dead`: killHost sets that after every
 * process of its namespace, QEMU included, is gone. `safety()` judges a time window (see there).
 */
import type { ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerClient } from '../../src/hosted-engine/broker/client.js';
import type { BrokerStatus } from '../../src/hosted-engine/broker/schemas.js';
import { DomainState, type Hypervisor } from '../../src/virt/hypervisor.js';
import { openLibvirt } from '../../src/virt/libvirt.js';
import { startLibvirtd, type Libvirtd } from '../fixtures/libvirtd.js';
import { tinyDomainXml, tinyGuest } from '../fixtures/tiny-guest.js';
import { waitForLog } from '../support/logs.js';
import { ROOT, VDSMD } from '../support/paths.js';
import { killAll, processRef, type ProcessRef } from '../support/proc-pids.js';
import { isRunning, stopProcess } from '../support/processes.js';
import { runCommand } from '../support/run-command.js';
import { sleep } from '../support/wait.js';
import { mountCutfs, type CutMount } from './cutfs.js';
import { startNetwork, type TestNetwork } from './netns.js';
import { initLeaseFile, startSanlock, type SanlockDaemon } from './sanlock.js';

export type Profile = 'fast' | 'default';

/** hosted-engine.conf timing keys per profile: `default` leaves every timing at the product's default. */
export const PROFILES: Record<Profile, Record<string, string>> = {
  fast: {
    monitor_interval: '0.5',
    loop_delay: '1',
    host_alive_timeout: '5',
    stats_history: '60',
    engine_maybe_away_timeout: '4',
    vm_unexpected_shutdown_timeout: '30',
    engine_bad_health_timeout: '10',
    engine_stop_timeout: '10',
    engine_starting_timeout: '60',
    shutdown_delay: '3',
    score_lead_hold: '35',
    sanlock_io_timeout: '1',
  },
  default: {},
};
/** vdsmd's guest_wait_timeout per profile (Powering up → Up without a guest agent). */
const GUEST_WAIT: Record<Profile, string> = { fast: '2', default: '60' };

const ENGINE_NAME = 'HostedEngine';
const ENGINE_VM_ID = '6b1e3d52-5c0e-4f8a-9d7e-0123456789ab';
const VDSM_PORT = 54321; // each host has a network namespace of its own: nothing else listens there
/** virDomainPausedReason VIR_DOMAIN_PAUSED_STARTING_UP. */
const PAUSED_STARTING_UP = 11;
const HEALTH_PAGE = 'DB Up!Welcome to Health Status!';

/** The stand-in engine web service: the health page on the engine's address, port 80. */
const HEALTH_SERVER = `
const [ip, body] = process.argv.slice(1);
require('http').createServer((req, res) => {
  if (req.url === '/ovirt-engine/services/health') res.end(body);
  else { res.statusCode = 404; res.end(); }
}).listen(80, ip, () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));`;

export interface ClusterHost {
  id: number;
  ns: string;
  dir: string;
  conf: string;
  brokerSocket: string;
  storage: CutMount;
  sanlock: SanlockDaemon;
  libvirtd: Libvirtd;
  hv: Hypervisor | undefined;
  vdsmd: ChildProcess | undefined;
  broker: ChildProcess | undefined;
  agent: ChildProcess | undefined;
  /** Killed with its namespace: nothing of it is left. */
  dead: boolean;
}

export interface Sample {
  /** Date.now() taken before any question of this sample. */
  at: number;
  /** Hosts whose libvirt has the engine VM (running, paused or shutting down). */
  running: number[];
  /**
   * Live hosts whose libvirt could not tell (error, no answer in time, previous question pending) and that have a
   * QEMU of the engine VM (or an unreadable namespace): it may run there or not.
   */
  unknown: number[];
  /** Hosts whose libvirt could not tell, known not to run the engine VM because /proc shows no QEMU of it there. */
  byProc?: number[];
  /**
   * The running host's broker reads the engine as up and healthy (false when it could not tell: healthy is a
   * claim to prove). It is asked in the same instant as libvirt, so it is the broker of the host that ran the
   * VM one sample before; a VM that moved reads healthy one sample (100 ms) late.
   */
  healthy: boolean;
}

/** The single host running the engine VM, when that is known: exactly one running and no host unknown. */
export const onlyOn = (s: Sample): number | undefined =>
  s.unknown.length === 0 && s.running.length === 1 ? s.running[0] : undefined;
/** No host runs the engine VM, and every live host said so. */
export const nowhere = (s: Sample): boolean => s.unknown.length === 0 && s.running.length === 0;

/** A libvirt or broker question that has not answered within this is an unknown. */
export const QUERY_TIMEOUT_MS = 500;
/**
 * What a sample may spend on the /proc fallback beyond the libvirt questions' QUERY_TIMEOUT_MS, so that one sample
 * ends within QUERY_TIMEOUT_MS + FALLBACK_MS and the next starts at once: well inside MAX_GAP_MS.
 */
const FALLBACK_MS = 200;

/** More than this without a sample is a blind spot: the sampler did not look. */
export const MAX_GAP_MS = 1000;
/**
 * More than this without knowing one host's state (its libvirt slow to answer: a busy machine's libvirtd starting or
 * stopping a domain took 1.0-1.2 s in CI), or without proof of single-running, fails. Shorter ones are counted.
 */
export const MAX_UNKNOWN_MS = 3000;

/**
 * What the samples of a time window prove. The rules (`safetyProblems` turns them into failures):
 *  - `twice`: samples with the engine VM on two hosts. Must be none.
 *  - `gaps`: more than MAX_GAP_MS without a sample (window edges included). Must be none.
 *  - An unknown is a sample missed for that host, never "not running". Every one is counted (`unknownByHost`)
 *    and printed. On a host not under fault (`faulted`) the gap rule applies to it alone: `blind`, stretches of
 *    more than MAX_UNKNOWN_MS without a known state of that host, must be none. A host under fault (its libvirtd
 *    killed, its storage gone) may stay unknown longer, but only while that cannot hide a second instance:
 *  - `unproven`: samples where running + unknown > 1 (say host 1 runs the VM and host 2 could not tell). Such a
 *    sample is no proof of single-running; `unprovenStretches`, runs of them lasting more than MAX_UNKNOWN_MS (until
 *    the next sample that proves it), must be none. A shorter one is the same blind spot the gap rule allows.
 */
export interface Safety {
  from: number;
  to: number;
  samples: number;
  twice: Sample[];
  unproven: Sample[];
  unprovenStretches: { after: number; ms: number }[];
  unknownByHost: Record<number, number>;
  /** Libvirt could not tell, /proc showed no QEMU of the engine VM: known not running. Counted, per host. */
  byProcByHost: Record<number, number>;
  blind: { host: number; after: number; ms: number }[];
  gaps: { after: number; ms: number }[];
}

/** Every broken rule of `safety` as a line (empty: the window is proven safe). */
export function safetyProblems(s: Safety): string[] {
  const show = (xs: Sample[]) =>
    xs
      .slice(0, 5)
      .map((x) => `+${x.at - s.from} ms running [${x.running.join(',')}] unknown [${x.unknown.join(',')}]`)
      .join('; ');
  const out: string[] = [];
  if (s.samples === 0) out.push('no sample at all in the window');
  if (s.twice.length) out.push(`${s.twice.length} samples with the engine VM on two hosts: ${show(s.twice)}`);
  if (s.unprovenStretches.length)
    out.push(
      `running + unknown > 1 (no proof of single-running) for more than ${MAX_UNKNOWN_MS} ms: ${s.unprovenStretches
        .slice(0, 5)
        .map((g) => `${g.ms} ms from +${g.after - s.from} ms`)
        .join(', ')}; samples: ${show(s.unproven)}`,
    );
  if (s.blind.length)
    out.push(
      `a host not under fault unknown for more than ${MAX_UNKNOWN_MS} ms: ${s.blind
        .slice(0, 5)
        .map((g) => `host ${g.host} ${g.ms} ms from +${g.after - s.from} ms`)
        .join(', ')}`,
    );
  if (s.gaps.length)
    out.push(
      `${s.gaps.length} gaps of more than ${MAX_GAP_MS} ms between samples: ${s.gaps
        .slice(0, 5)
        .map((g) => `${g.ms} ms after +${g.after - s.from} ms`)
        .join(', ')}`,
    );
  return out;
}

export function describeSafety(s: Safety): string {
  const unknown =
    Object.entries(s.unknownByHost)
      .map(([h, n]) => `host ${h}: ${n}`)
      .join(', ') || 'none';
  const byProc =
    Object.entries(s.byProcByHost)
      .map(([h, n]) => `host ${h}: ${n}`)
      .join(', ') || 'none';
  return `${s.samples} samples in ${((s.to - s.from) / 1000).toFixed(1)} s, unknowns ${unknown}, libvirt unknowns settled by /proc ${byProc}, samples with running + unknown > 1: ${s.unproven.length}`;
}

/** Stretches longer than `limit` between consecutive `times`. */
function longGaps(times: number[], limit = MAX_GAP_MS): { after: number; ms: number }[] {
  const out: { after: number; ms: number }[] = [];
  for (let i = 1; i < times.length; i++)
    if (times[i]! - times[i - 1]! > limit) out.push({ after: times[i - 1]!, ms: times[i]! - times[i - 1]! });
  return out;
}

/** Runs of samples matching `bad`, each from its first sample to the next sample not matching (or `to`), longer than `limit`. */
function longRuns(
  samples: Sample[],
  bad: (s: Sample) => boolean,
  to: number,
  limit = MAX_UNKNOWN_MS,
): { after: number; ms: number }[] {
  const out: { after: number; ms: number }[] = [];
  let start: number | undefined;
  for (const s of samples) {
    if (bad(s)) start ??= s.at;
    else if (start !== undefined) {
      if (s.at - start > limit) out.push({ after: start, ms: s.at - start });
      start = undefined;
    }
  }
  if (start !== undefined && to - start > limit) out.push({ after: start, ms: to - start });
  return out;
}

/**
 * The sampler is the instrument that proves single-running: the load it watches must not blind it. Every thread of
 * this process (the sampler's, and libuv's pool that asks libvirt) gets a higher CPU priority than anything else on
 * the machine, CPU hogs beside the suite included (nice is per thread on Linux). Processes started from here on
 * inherit it. Without root this changes nothing, and the gap rule reports a starved sampler as it should.
 */
function prioritiseThisProcess(): void {
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      setPriority(Number(tid), -10);
    } catch {
      // not permitted: see above
    }
  }
}

export function judge(samples: Sample[], from: number, to: number, hostIds: number[], faulted: number[]): Safety {
  const inWindow = samples.filter((s) => s.at >= from && s.at <= to);
  const unknownByHost: Record<number, number> = {};
  for (const s of inWindow) for (const id of s.unknown) unknownByHost[id] = (unknownByHost[id] ?? 0) + 1;
  const byProcByHost: Record<number, number> = {};
  for (const s of inWindow) for (const id of s.byProc ?? []) byProcByHost[id] = (byProcByHost[id] ?? 0) + 1;
  const unproven = (s: Sample) => s.running.length <= 1 && s.running.length + s.unknown.length > 1;
  const blind = hostIds
    .filter((id) => !faulted.includes(id))
    .flatMap((id) =>
      longGaps([from, ...inWindow.filter((s) => !s.unknown.includes(id)).map((s) => s.at), to], MAX_UNKNOWN_MS).map(
        (g) => ({ host: id, ...g }),
      ),
    );
  return {
    from,
    to,
    samples: inWindow.length,
    twice: inWindow.filter((s) => s.running.length > 1),
    unproven: inWindow.filter(unproven),
    unprovenStretches: longRuns(inWindow, unproven, to),
    unknownByHost,
    byProcByHost,
    blind,
    gaps: longGaps([from, ...inWindow.map((s) => s.at), to]),
  };
}

export interface Cluster {
  net: TestNetwork;
  hosts: ClusterHost[];
  dir: string;
  profile: Profile;
  vmId: string;
  /** Most hosts that ran the engine VM in one sample since the start (1 is right). */
  maxRunning(): number;
  last(): Sample;
  /** Resolves with the first sample (taken every 100 ms from now) that satisfies `pred`; rejects after timeoutMs. */
  until(what: string, pred: (s: Sample) => boolean, timeoutMs: number): Promise<Sample>;
  /** Every sample from `since` (ms, Date.now()) on. */
  samplesSince(since: number): Sample[];
  /** Judges the samples of [from, to] (to: now); unknowns are expected only on the `faulted` hosts. See Safety. */
  safety(from: number, opts?: { to?: number; faulted?: number[] }): Safety;
  /** Since the start: samples, unknowns per host, samples where running + unknown > 1 and the longest run of them (ms). */
  totals(): {
    samples: number;
    unproven: number;
    longestUnprovenMs: number;
    unknownByHost: Record<number, number>;
    byProcByHost: Record<number, number>;
  };
  broker(hostId: number): Promise<BrokerStatus>;
  /** The last `lines` state changes of every host's agent and libvirtd's errors, for a failing test's output. */
  diagnose(lines?: number): string;
  /**
   * Who holds the engine VM's lease and why, for a failing test's output: the leader record on disk, every live
   * host's sanlock daemon (`client status`: its lockspaces, the pids it holds resources for), the engine VM's QEMUs
   * in /proc and the daemon's last log lines.
   */
  diagnoseLeases(lines?: number): Promise<string>;
  /** Stops the host's HA agent cleanly (it publishes AgentStopped) / starts it again. */
  stopAgent(hostId: number): Promise<void>;
  startAgent(hostId: number): void;
  hostedEngine(hostId: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `vdsm-client --insecure ...args` in the host's namespace (its vdsmd on 127.0.0.1:54321). */
  vdsmClient(hostId: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Per live host, the engine VM's QEMU processes in its network namespace, counted from /proc, not libvirt (-1: unreadable). */
  qemuProcesses(): Promise<Record<number, number>>;
  faults: {
    killVm(hostId: number): Promise<void>;
    engineService(up: boolean): void;
    engineNetwork(up: boolean): void;
    cutNetwork(hostId: number): Promise<void>;
    restoreNetwork(hostId: number): Promise<void>;
    cutStorage(hostId: number): Promise<void>;
    restoreStorage(hostId: number): Promise<void>;
    /** SIGKILL vdsmd; it is started again after `restartAfterMs`, as systemd would (Restart=always). */
    killVdsmd(hostId: number, restartAfterMs: number): Promise<void>;
    /** Every process of the host (sanlock, libvirtd, QEMU, vdsmd, broker, agent, its storage mount) and its namespace. */
    killHost(hostId: number): Promise<void>;
  };
  stop(): Promise<void>;
}

function confText(c: { id: number; storage: string; dir: string; net: TestNetwork; profile: Profile }): string {
  const keys: Record<string, string> = {
    host_id: String(c.id),
    vmid: ENGINE_VM_ID,
    vm_xml: join(c.dir, '..', 'engine.xml'),
    metadata: join(c.storage, 'hosted-engine.metadata'),
    lockspace: join(c.storage, 'hosted-engine.lockspace'),
    lock: 'sanlock',
    network_test: 'ping',
    gateway: c.net.gateway,
    bridge: 'eth0',
    health_url: `http://${c.net.engineIp}/ovirt-engine/services/health`,
    vdsm_host: '127.0.0.1',
    vdsm_port: String(VDSM_PORT),
    vdsm_ssl: 'false',
    broker_socket: join(c.dir, 'broker.sock'),
    state_dir: join(c.dir, 'state'),
    engine_memory_mib: '96',
    ...PROFILES[c.profile],
  };
  return Object.entries(keys)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}

/**
 * Per host, the engine VM's QEMU processes (comm qemu-system*, `-uuid` the engine VM's, not a zombie) in the host's
 * network namespace, from /proc: independent of libvirt. undefined for a host whose namespace cannot be read.
 */
export async function engineQemus(list: { id: number; ns: string }[]): Promise<Map<number, number | undefined>> {
  const out = new Map<number, number | undefined>();
  const byIno = new Map<number, number>();
  for (const h of list) {
    try {
      byIno.set((await stat(`/run/netns/${h.ns}`)).ino, h.id);
      out.set(h.id, 0);
    } catch {
      out.set(h.id, undefined);
    }
  }
  const one = async (name: string) => {
    try {
      const id = byIno.get(Number(/^net:\[(\d+)\]$/.exec(await readlink(`/proc/${name}/ns/net`))?.[1]));
      if (id === undefined || !(await readFile(`/proc/${name}/comm`, 'utf8')).startsWith('qemu-system')) return;
      if (!(await readFile(`/proc/${name}/cmdline`, 'utf8')).includes(ENGINE_VM_ID)) return;
      const st = await readFile(`/proc/${name}/stat`, 'utf8');
      if (!/^[ZX]/.test(st.slice(st.lastIndexOf(')') + 2))) out.set(id, out.get(id)! + 1);
    } catch {
      /* gone meanwhile */
    }
  };
  await Promise.all((await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(one));
  return out;
}

export async function startCluster(opts: { hosts?: number; profile?: Profile } = {}): Promise<Cluster> {
  const count = opts.hosts ?? 3;
  const profile = opts.profile ?? 'fast';
  const ioTimeout = Number(PROFILES[profile].sanlock_io_timeout ?? 10);
  const dir = mkdtempSync(join(tmpdir(), 'vts-cluster-'));
  chmodSync(dir, 0o755); // the sanlock daemon runs as user sanlock and must reach the lockspace file
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  const net = await startNetwork({ hosts: count });
  const hosts: ClusterHost[] = [];
  const samples: Sample[] = [];
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();
  let maxRunning = 0;
  // The stand-in engine service: where it runs, and what the faults did to the current VM instance.
  let engine:
    | {
        instance: string;
        host: number;
        server?: ChildProcess;
        addressOn?: number;
        netDown: boolean;
        serviceDown: boolean;
      }
    | undefined;
  const stopping: Promise<void>[] = [];

  // What a host's start made before the host was complete: a failed start stops these too.
  const partial: { sanlock: SanlockDaemon[]; storage: CutMount[] } = { sanlock: [], storage: [] };

  const cleanup = async () => {
    sampling = false;
    await sampler;
    await stopProcess(engine?.server, 5000);
    for (const h of hosts) {
      await stopProcess(h.agent, 5000);
      await stopProcess(h.broker, 5000);
      await stopProcess(h.vdsmd, 5000);
      await h.hv?.close().catch(() => {});
      await h.libvirtd?.stop().catch(() => {});
      await h.sanlock.stop().catch(() => {});
      await h.storage.unmount().catch(() => {});
    }
    for (const s of partial.sanlock) await s.stop().catch(() => {});
    for (const m of partial.storage) await m.unmount().catch(() => {});
    await Promise.allSettled(stopping);
    await net.stop();
    // VDSM_TS_KEEP_CLUSTER=1 keeps every host's logs (sanlock, vdsmd, broker, agent) for a post-mortem.
    if (process.env.VDSM_TS_KEEP_CLUSTER !== '1') rmSync(dir, { recursive: true, force: true });
  };

  try {
    const guest = await tinyGuest();
    writeFileSync(
      join(dir, 'engine.xml'),
      tinyDomainXml({
        name: ENGINE_NAME,
        uuid: ENGINE_VM_ID,
        kernel: guest.kernel,
        initrd: guest.initrd,
        consoleLog: join(dir, 'engine-console.log'),
        memoryMiB: 96,
        acpi: true,
      }),
    );
    // Hosts come up in parallel: their sanlock joins (3 × io_timeout each) are the slow part. All of them end, failed
    // or not, before a failure is thrown: the cleanup must not race a host still starting.
    const starts = await Promise.allSettled(
      net.hosts.map(async (nh) => {
        const hdir = join(dir, `host${nh.id}`);
        mkdirSync(join(hdir, 'storage'), { recursive: true });
        const storage = await mountCutfs(shared, join(hdir, 'storage'));
        partial.storage.push(storage);
        const sanlock = await startSanlock({
          name: `host${nh.id}`,
          spawn: (argv, env) => net.spawnIn(nh.ns, argv, { env, stdout: join(hdir, 'sanlock.out') }),
        });
        partial.sanlock.push(sanlock);
        hosts.push({
          id: nh.id,
          ns: nh.ns,
          dir: hdir,
          conf: join(hdir, 'hosted-engine.conf'),
          brokerSocket: join(hdir, 'broker.sock'),
          storage,
          sanlock,
          libvirtd: undefined as never,
          hv: undefined,
          vdsmd: undefined,
          broker: undefined,
          agent: undefined,
          dead: false,
        });
      }),
    );
    const failed = starts.filter((r) => r.status === 'rejected').map((r) => (r.reason as Error).message);
    if (failed.length) throw new Error(`cluster hosts did not start: ${failed.join('; ')}`);
    hosts.sort((a, b) => a.id - b.id);
    // The deployment step: one host writes the lockspace and the engine VM's lease on the shared storage.
    await initLeaseFile(join(hosts[0]!.storage.mountpoint, 'hosted-engine.lockspace'), {
      lockspace: 'hosted-engine',
      resources: [{ name: 'engine-vm', offset: 1024 * 1024 }],
      ioTimeout,
    });
    for (const h of hosts) {
      writeFileSync(h.conf, confText({ id: h.id, storage: h.storage.mountpoint, dir: h.dir, net, profile }));
      h.libvirtd = await startLibvirtd({ netns: h.ns, env: h.sanlock.env, lockManager: 'sanlock' });
      h.hv = await openLibvirt(h.libvirtd.uri);
      await startVdsmd(h);
    }
    for (const h of hosts)
      h.broker = net.spawnIn(h.ns, [process.execPath, join(ROOT, 'dist/cli/he-broker.js'), '--conf', h.conf], {
        env: { ...h.sanlock.env },
        stdout: join(h.dir, 'broker.log'),
      });
    for (const h of hosts)
      await waitForLog(join(h.dir, 'broker.log'), /HA broker ready/, 20_000, `host ${h.id} broker`);
    for (const h of hosts) startAgent(h);
  } catch (err) {
    // the start's own error is the one to see; a cleanup that fails too is said after it
    const left = await cleanup().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    if (left) (err as Error).message += `\n(and the cleanup failed: ${left.message})`;
    throw err;
  }

  function startAgent(h: ClusterHost): void {
    h.agent = net.spawnIn(h.ns, [process.execPath, join(ROOT, 'dist/cli/he-agent.js'), '--conf', h.conf], {
      env: { ...h.sanlock.env },
      stdout: join(h.dir, 'agent.log'),
    });
  }

  async function startVdsmd(h: ClusterHost): Promise<void> {
    const log = join(h.dir, 'vdsmd.log');
    writeFileSync(log, '');
    h.vdsmd = net.spawnIn(
      h.ns,
      [
        process.execPath,
        VDSMD,
        '--bind',
        '127.0.0.1',
        '--port',
        String(VDSM_PORT),
        '--ssl',
        'false',
        '--libvirt-uri',
        h.libvirtd.uri,
        '--guest-wait-timeout',
        GUEST_WAIT[profile],
        '--vm-sample-interval',
        '2',
        '--he-conf',
        h.conf,
      ],
      { env: { VDSM_CONFIG: '/dev/null' }, stdout: log },
    );
    await waitForLog(log, /"msg":"vdsmd ready"/, 30_000, `host ${h.id} vdsmd`);
  }

  const byId = (id: number): ClusterHost => {
    const h = hosts.find((x) => x.id === id);
    if (!h || h.dead) throw new Error(`no live host ${id}`);
    return h;
  };

  /** Moves the stand-in engine service to where the engine VM runs, as the VM's own network would. */
  async function follow(running: { host: number; instance: string } | undefined): Promise<void> {
    if (!running) {
      if (engine) {
        await stopProcess(engine.server, 1000);
        if (engine.addressOn !== undefined) await net.removeEngineAddress(engine.addressOn).catch(() => {});
        engine = undefined;
      }
      return;
    }
    if (engine && engine.instance !== running.instance) await follow(undefined);
    engine ??= { instance: running.instance, host: running.host, netDown: false, serviceDown: false };
    const wantAddress = !engine.netDown;
    if (wantAddress && engine.addressOn === undefined) {
      await net.addEngineAddress(running.host);
      engine.addressOn = running.host;
    } else if (!wantAddress && engine.addressOn !== undefined) {
      await net.removeEngineAddress(engine.addressOn).catch(() => {});
      engine.addressOn = undefined;
    }
    const wantServer = wantAddress && !engine.serviceDown;
    if (wantServer && !isRunning(engine.server)) {
      const h = byId(running.host);
      const log = join(h.dir, 'engine-health.log');
      writeFileSync(log, '');
      engine.server = net.spawnIn(h.ns, [process.execPath, '-e', HEALTH_SERVER, net.engineIp, HEALTH_PAGE], {
        stdout: log,
      });
      await waitForLog(log, /listening/, 5000, 'engine health page').catch(() => {});
    } else if (!wantServer && isRunning(engine.server)) {
      await stopProcess(engine.server, 1000);
    }
  }

  /** Resolves with `p`'s value, or `timedOut` after `ms`; never rejects (a rejection is `failed`). */
  const bounded = <T, U>(p: Promise<T>, ms: number, timedOut: U, failed: U): Promise<T | U> =>
    new Promise((resolve) => {
      const t = setTimeout(() => resolve(timedOut), ms);
      p.then(
        (v) => (clearTimeout(t), resolve(v)),
        () => (clearTimeout(t), resolve(failed)),
      );
    });
  const UNKNOWN = Symbol('unknown');
  /** Per host, its libvirt question still unanswered: a host that hangs gets no second one (nor a thread-pool slot). */
  const pending = new Map<number, Promise<unknown>>();
  let previousOn: number | undefined;
  let following: Promise<void> | undefined;

  async function takeSample(): Promise<Sample> {
    const at = Date.now();
    const live = hosts.filter((h) => !h.dead);
    // The health of the host that ran the VM one sample before, asked together with every libvirt.
    const healthHost = previousOn !== undefined ? hosts.find((h) => h.id === previousOn && !h.dead) : undefined;
    const health = healthHost
      ? bounded(
          brokerClient(healthHost.brokerSocket).call('status', {}, { timeoutMs: QUERY_TIMEOUT_MS }),
          QUERY_TIMEOUT_MS,
          undefined,
          undefined,
        )
      : Promise.resolve(undefined);
    const answers = await Promise.all(
      live.map(async (h) => {
        if (!h.hv || pending.has(h.id)) return UNKNOWN;
        const q = h.hv.listDomains();
        pending.set(h.id, q);
        void q.then(
          () => pending.delete(h.id),
          () => pending.delete(h.id),
        );
        return bounded(q, QUERY_TIMEOUT_MS, UNKNOWN, UNKNOWN);
      }),
    );
    const running: number[] = [];
    const unknown: number[] = [];
    let instance: { host: number; instance: string } | undefined;
    live.forEach((h, i) => {
      const doms = answers[i]!;
      if (doms === UNKNOWN) return void unknown.push(h.id);
      // A QEMU that libvirt is still launching (paused, "starting up") has not got the lease yet, and may never.
      const d = doms.find(
        (x) =>
          x.uuid === ENGINE_VM_ID &&
          x.state !== DomainState.Shutoff &&
          x.state !== DomainState.Crashed &&
          x.state !== DomainState.NoState &&
          !(x.state === DomainState.Paused && x.reason === PAUSED_STARTING_UP),
      );
      if (!d) return;
      running.push(h.id);
      if (d.state === DomainState.Running) instance = { host: h.id, instance: `${h.id}:${d.id}` };
    });
    // Fallback for a libvirt that could not tell: no engine VM QEMU at all in the host's namespace (from /proc)
    // proves it does not run it. A QEMU there, or an unreadable namespace, leaves it unknown.
    const byProc: number[] = [];
    if (unknown.length) {
      // Asynchronous and bounded: a /proc read can block on a process stuck in I/O (storage cut), and the sampler's
      // loop must not stall with it (a late sample is a gap). Not done in time: they stay unknown.
      const q = await bounded(
        engineQemus(live.filter((h) => unknown.includes(h.id))),
        Math.max(50, QUERY_TIMEOUT_MS + FALLBACK_MS - (Date.now() - at)),
        new Map<number, number | undefined>(),
        new Map<number, number | undefined>(),
      );
      for (const [id, n] of q) if (n === 0) byProc.push(id);
      for (const id of byProc) unknown.splice(unknown.indexOf(id), 1);
    }
    const status = await health;
    const healthy =
      running.length === 1 &&
      unknown.length === 0 &&
      running[0] === healthHost?.id &&
      status?.readings.engine.vm === 'up' &&
      status.readings.engine.health === 'good';
    previousOn = running.length === 1 ? running[0] : undefined;
    // The stand-in engine service follows only what is known, and in the background: the sampler never waits on it.
    if (unknown.length === 0 && running.length <= 1 && !following) {
      following = follow(running.length === 1 ? instance : undefined)
        .catch(() => {
          /* tried again at the next sample */
        })
        .finally(() => (following = undefined));
    }
    return { at, running, unknown, healthy, ...(byProc.length ? { byProc } : {}) };
  }

  let unproven = 0;
  let unprovenSince: number | undefined;
  let longestUnprovenMs = 0;
  const unknownTotals: Record<number, number> = {};
  const byProcTotals: Record<number, number> = {};
  let sampleCount = 0;
  const record = (s: Sample) => {
    samples.push(s);
    if (samples.length > 20_000) samples.splice(0, 10_000);
    sampleCount++;
    maxRunning = Math.max(maxRunning, s.running.length);
    if (s.running.length + s.unknown.length > 1) {
      unproven++;
      unprovenSince ??= s.at;
    } else if (unprovenSince !== undefined) {
      longestUnprovenMs = Math.max(longestUnprovenMs, s.at - unprovenSince);
      unprovenSince = undefined;
    }
    for (const id of s.unknown) unknownTotals[id] = (unknownTotals[id] ?? 0) + 1;
    for (const id of s.byProc ?? []) byProcTotals[id] = (byProcTotals[id] ?? 0) + 1;
  };

  prioritiseThisProcess();
  sampler = (async () => {
    while (sampling) {
      const started = Date.now();
      try {
        record(await takeSample());
      } catch {
        // Not expected (takeSample catches every question's failure); still, a sample that could not be taken
        // is every live host unknown, never a dropped sample.
        record({ at: started, running: [], unknown: hosts.filter((h) => !h.dead).map((h) => h.id), healthy: false });
      }
      await sleep(Math.max(0, 100 - (Date.now() - started)));
    }
    await following;
  })();

  const cluster: Cluster = {
    net,
    hosts,
    dir,
    profile,
    vmId: ENGINE_VM_ID,
    maxRunning: () => maxRunning,
    last: () => samples[samples.length - 1] ?? { at: 0, running: [], unknown: [], healthy: false },
    samplesSince: (since) => samples.filter((s) => s.at >= since),
    safety: (from, opts = {}) =>
      judge(
        samples,
        from,
        opts.to ?? Date.now(),
        hosts.map((h) => h.id),
        opts.faulted ?? [],
      ),
    totals: () => ({
      samples: sampleCount,
      unproven,
      longestUnprovenMs: Math.max(longestUnprovenMs, unprovenSince !== undefined ? Date.now() - unprovenSince : 0),
      unknownByHost: { ...unknownTotals },
      byProcByHost: { ...byProcTotals },
    }),
    async until(what, pred, timeoutMs) {
      const from = Date.now();
      let seen = samples.length;
      while (Date.now() - from < timeoutMs) {
        for (; seen < samples.length; seen++)
          if (samples[seen]!.at >= from && pred(samples[seen]!)) return samples[seen]!;
        await sleep(50);
      }
      const l = cluster.last();
      throw new Error(
        `${what}: not within ${timeoutMs} ms (last sample: running on [${l.running.join(',')}], unknown [${l.unknown.join(',')}], healthy ${l.healthy})`,
      );
    },
    broker: (id) => brokerClient(byId(id).brokerSocket).call('status', {}, { timeoutMs: 10_000 }),
    stopAgent: (id) => stopProcess(byId(id).agent, 10_000),
    diagnose(lines = 15) {
      const tail = (file: string, keep: (l: string) => boolean) =>
        existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(keep).slice(-lines) : [];
      return hosts
        .map((h) => {
          const agent = tail(join(h.dir, 'agent.log'), (l) => l.includes('"msg"')).map((l) => {
            const j = JSON.parse(l) as { time: number; msg: string; err?: string };
            return `  ${new Date(j.time).toISOString().slice(11, 23)} ${j.msg}${j.err ? `: ${j.err}` : ''}`;
          });
          const libvirt = tail(
            join(h.libvirtd.dir, 'libvirtd.log'),
            (l) => / error : /.test(l) && !/dmi|udev|GDBus/.test(l),
          ).map((l) => `  libvirtd: ${l.slice(11, 23)} ${l.replace(/^.* error : /, '')}`);
          return [`host ${h.id}${h.dead ? ' (dead)' : ''}:`, ...agent, ...libvirt].join('\n');
        })
        .join('\n');
    },
    async diagnoseLeases(lines = 15) {
      const live = hosts.filter((h) => !h.dead);
      const first = live[0];
      const out: string[] = [];
      if (first) {
        const resource = `hosted-engine:engine-vm:${join(first.storage.mountpoint, 'hosted-engine.lockspace')}:${1024 * 1024}`;
        const r = await runCommand('sanlock', ['direct', 'read_leader', '-r', resource], { timeoutMs: 15_000 });
        const keep = /^(owner_id|owner_generation|timestamp|lver|write_id|write_generation|write_timestamp) /;
        out.push(
          `leader record (read from host ${first.id}'s mount): ${
            r.stdout
              .split('\n')
              .filter((l) => keep.test(l))
              .join(', ') || r.stderr.trim()
          }`,
        );
      }
      const qemus = await engineQemus(live);
      for (const h of live) {
        const st = await h.sanlock.client(['status'], 10_000);
        const log = [join(h.sanlock.runDir, 'daemon.log'), join(h.dir, 'sanlock.out')]
          .filter((f) => existsSync(f))
          .flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).slice(-lines));
        out.push(
          `host ${h.id}: engine VM QEMUs in /proc: ${qemus.get(h.id) ?? 'unreadable'}; sanlock client status (exit ${st.code}):`,
          ...st.stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => `  ${l}`),
          ...log.map((l) => `  log: ${l}`),
        );
      }
      return out.join('\n');
    },
    startAgent: (id) => startAgent(byId(id)),
    // In the host's namespace: the CLI talks to that host's vdsmd on its loopback.
    hostedEngine: (id, args) =>
      net.exec(
        byId(id).ns,
        [process.execPath, join(ROOT, 'dist/cli/hosted-engine.js'), '--conf', byId(id).conf, ...args],
        { timeoutMs: 30_000 },
      ),
    vdsmClient: (id, args) =>
      net.exec(byId(id).ns, [process.execPath, join(ROOT, 'dist/cli/vdsm-client.js'), '--insecure', ...args], {
        timeoutMs: 30_000,
      }),
    async qemuProcesses() {
      const counts = await engineQemus(hosts.filter((h) => !h.dead));
      return Object.fromEntries([...counts].map(([id, n]) => [id, n ?? -1]));
    },
    faults: {
      async killVm(id) {
        const pidFile = join(byId(id).libvirtd.dir, 'run', 'qemu', `${ENGINE_NAME}.pid`);
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no QEMU pid in ${pidFile}`);
        process.kill(pid, 'SIGKILL');
      },
      engineService(up) {
        if (!engine) throw new Error('the engine VM runs nowhere');
        engine.serviceDown = !up;
      },
      engineNetwork(up) {
        if (!engine) throw new Error('the engine VM runs nowhere');
        engine.netDown = !up;
      },
      cutNetwork: (id) => net.cut(byId(id).id),
      restoreNetwork: (id) => net.restore(byId(id).id),
      cutStorage: (id) => byId(id).storage.cut(),
      restoreStorage: (id) => byId(id).storage.restore(),
      async killVdsmd(id, restartAfterMs) {
        const h = byId(id);
        h.vdsmd?.kill('SIGKILL');
        await sleep(restartAfterMs);
        stopping.push(startVdsmd(h));
        await stopping[stopping.length - 1];
      },
      async killHost(id) {
        const h = byId(id);
        // Everything in the namespace at once (QEMU, libvirtd, sanlock, vdsmd, broker, agent), as a power cut.
        const refs = (await runCommand('ip', ['netns', 'pids', h.ns], { env: process.env })).stdout
          .split('\n')
          .map(Number)
          .filter((p) => Number.isInteger(p) && p > 1)
          .map(processRef)
          .filter((r): r is ProcessRef => r !== undefined);
        // Only once every one of them is gone is the host known not to run the engine VM (the sampler stops
        // asking it); until then its dead libvirtd makes it an unknown in the samples, as it should.
        await killAll(refs, 10_000);
        h.dead = true;
        await h.sanlock.kill().catch(() => {});
        await h.storage.unmount().catch(() => {});
        await runCommand('ip', ['netns', 'del', h.ns], { env: process.env });
        await h.hv?.close().catch(() => {});
        h.hv = undefined;
      },
    },
    stop: cleanup,
  };
  return cluster;
}

export interface Recovery {
  /** Fault → the engine VM's QEMU running (under the lease) on exactly one host, every other host saying not. */
  upMs: number;
  /** Fault → that host's broker reads the engine as up with a good health page. */
  healthyMs: number;
  host: number;
  /** Samples since the fault with the engine VM on more than one host (must be none). */
  twice: Sample[];
  /** The samples from the fault to the healthy one, judged (`faulted`: the hosts whose unknowns are expected). */
  safety: Safety;
}

/** Waits for the engine VM to be Up, then healthy, after a fault at `at` (`elsewhere`: on a host other than `victim`). */
export async function measureRecovery(
  c: Cluster,
  at: number,
  victim: number,
  opts: { elsewhere?: boolean; timeoutMs?: number; what?: string; faulted?: number[] } = {},
): Promise<Recovery> {
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const what = opts.what ?? 'recovery';
  const wanted = (s: Sample) => onlyOn(s) !== undefined && (!opts.elsewhere || s.running[0] !== victim);
  const up = await c.until(`${what}: the engine VM Up${opts.elsewhere ? ' on another host' : ''}`, wanted, timeoutMs);
  const healthy = await c.until(`${what}: the engine healthy`, (s) => wanted(s) && s.healthy, timeoutMs);
  return {
    upMs: up.at - at,
    healthyMs: healthy.at - at,
    host: healthy.running[0]!,
    twice: c.samplesSince(at).filter((s) => s.running.length > 1),
    safety: c.safety(at, { to: healthy.at, faulted: opts.faulted ?? [] }),
  };
}

/** The engine VM Up and healthy on exactly one host (every other host saying not), and still so 2 s later; returns that host. */
export async function settledEngine(c: Cluster, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100; i++) {
    const first = await c.until(
      'the engine VM Up and healthy on one host',
      (s) => onlyOn(s) !== undefined && s.healthy,
      Math.max(1000, deadline - Date.now()),
    );
    await sleep(2000);
    const now = c.last();
    if (onlyOn(now) === first.running[0] && now.healthy) return first.running[0]!;
  }
  throw new Error('the engine VM never stayed Up and healthy on one host for 2 s');
}
