/**
 * The hosted-engine cluster test bed: N hosts, each a network namespace running its own sanlock daemon,
 * libvirtd (QEMU, libvirt's sanlock lock manager), vdsmd, HA broker and HA agent; shared storage that every
 * host sees through its own cutfs mount; the engine VM is a tiny QEMU guest. A stand-in for the engine's web
 * service (its health page) follows the engine VM: it is served on the engine's address from the namespace of
 * the host whose QEMU runs the VM, and faults can take the VM's network or its service down.
 *
 * A sampler looks every 100 ms at every host's libvirt (through its unix socket) and at the HA broker of the
 * host that runs the VM; it records how many hosts run the engine VM at once. Used by the failure-scenario
 * tests and by bench/failover.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callBroker } from '../../src/hosted-engine/broker/rpc.js';
import type { BrokerStatus } from '../../src/hosted-engine/broker/server.js';
import { DomainState, type Hypervisor } from '../../src/virt/hypervisor.js';
import { openLibvirt } from '../../src/virt/libvirt.js';
import { startLibvirtd, type Libvirtd } from '../fixtures/libvirtd.js';
import { tinyDomainXml, tinyGuest } from '../fixtures/tiny-guest.js';
import { ROOT, VDSMD } from '../support/paths.js';
import { isRunning, stopProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { mountCutfs, type CutMount } from './cutfs.js';
import { startNetwork, type TestNetwork } from './netns.js';
import { runCommand } from './run-command.js';
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
  at: number;
  /** Hosts whose libvirt has the engine VM (running, paused or shutting down). */
  running: number[];
  /** The running host's broker reads the engine as up and healthy. */
  healthy: boolean;
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
  broker(hostId: number): Promise<BrokerStatus>;
  /** The last `lines` state changes of every host's agent and libvirtd's errors, for a failing test's output. */
  diagnose(lines?: number): string;
  /** Stops the host's HA agent cleanly (it publishes AgentStopped) / starts it again. */
  stopAgent(hostId: number): Promise<void>;
  startAgent(hostId: number): void;
  hostedEngine(hostId: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
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

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits (bounded) until the file matches `re`; the error shows the file's end. */
async function waitForFile(path: string, re: RegExp, timeoutMs: number, what: string): Promise<void> {
  try {
    await waitFor(what, async () => (existsSync(path) && re.test(readFileSync(path, 'utf8')) ? true : undefined), timeoutMs, 50);
  } catch (err) {
    throw new Error(`${(err as Error).message}${existsSync(path) ? `:\n${readFileSync(path, 'utf8').slice(-2000)}` : ''}`);
  }
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
  return Object.entries(keys).map(([k, v]) => `${k}=${v}\n`).join('');
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
  let engine: { instance: string; host: number; server?: ChildProcess; addressOn?: number; netDown: boolean; serviceDown: boolean } | undefined;
  const stopping: Promise<void>[] = [];

  const cleanup = async () => {
    sampling = false;
    await sampler;
    await stopProcess(engine?.server, 5000);
    for (const h of hosts) {
      await stopProcess(h.agent, 5000);
      await stopProcess(h.broker, 5000);
      await stopProcess(h.vdsmd, 5000);
      await h.hv?.close().catch(() => {});
      await h.libvirtd.stop().catch(() => {});
      await h.sanlock.stop().catch(() => {});
      await h.storage.unmount().catch(() => {});
    }
    await Promise.allSettled(stopping);
    await net.stop();
    // VDSM_TS_KEEP_CLUSTER=1 keeps every host's logs (sanlock, vdsmd, broker, agent) for a post-mortem.
    if (process.env.VDSM_TS_KEEP_CLUSTER !== '1') rmSync(dir, { recursive: true, force: true });
  };

  try {
    const guest = await tinyGuest();
    writeFileSync(
      join(dir, 'engine.xml'),
      tinyDomainXml({ name: ENGINE_NAME, uuid: ENGINE_VM_ID, kernel: guest.kernel, initrd: guest.initrd, consoleLog: join(dir, 'engine-console.log'), memoryMiB: 96, acpi: true }),
    );
    // Hosts come up in parallel: their sanlock joins (3 × io_timeout each) are the slow part.
    await Promise.all(
      net.hosts.map(async (nh) => {
        const hdir = join(dir, `host${nh.id}`);
        mkdirSync(join(hdir, 'storage'), { recursive: true });
        const storage = await mountCutfs(shared, join(hdir, 'storage'));
        const sanlock = await startSanlock({
          name: `host${nh.id}`,
          spawn: (argv, env) => net.spawnIn(nh.ns, argv, { env, stdout: join(hdir, 'sanlock.out') }),
        });
        hosts.push({ id: nh.id, ns: nh.ns, dir: hdir, conf: join(hdir, 'hosted-engine.conf'), brokerSocket: join(hdir, 'broker.sock'), storage, sanlock, libvirtd: undefined as never, hv: undefined, vdsmd: undefined, broker: undefined, agent: undefined, dead: false });
      }),
    );
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
    for (const h of hosts) h.broker = net.spawnIn(h.ns, [process.execPath, join(ROOT, 'dist/cli/he-broker.js'), '--conf', h.conf], { env: { ...h.sanlock.env }, stdout: join(h.dir, 'broker.log') });
    for (const h of hosts) await waitForFile(join(h.dir, 'broker.log'), /HA broker ready/, 20_000, `host ${h.id} broker`);
    for (const h of hosts) startAgent(h);
  } catch (err) {
    await cleanup();
    throw err;
  }

  function startAgent(h: ClusterHost): void {
    h.agent = net.spawnIn(h.ns, [process.execPath, join(ROOT, 'dist/cli/he-agent.js'), '--conf', h.conf], { env: { ...h.sanlock.env }, stdout: join(h.dir, 'agent.log') });
  }

  async function startVdsmd(h: ClusterHost): Promise<void> {
    const log = join(h.dir, 'vdsmd.log');
    writeFileSync(log, '');
    h.vdsmd = net.spawnIn(
      h.ns,
      [process.execPath, VDSMD, '--bind', '127.0.0.1', '--port', String(VDSM_PORT), '--ssl', 'false', '--libvirt-uri', h.libvirtd.uri, '--guest-wait-timeout', GUEST_WAIT[profile], '--vm-sample-interval', '2', '--he-conf', h.conf],
      { env: { VDSM_CONFIG: '/dev/null' }, stdout: log },
    );
    await waitForFile(log, /"msg":"vdsmd ready"/, 30_000, `host ${h.id} vdsmd`);
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
      engine.server = net.spawnIn(h.ns, [process.execPath, '-e', HEALTH_SERVER, net.engineIp, HEALTH_PAGE], { stdout: log });
      await waitForFile(log, /listening/, 5000, 'engine health page').catch(() => {});
    } else if (!wantServer && isRunning(engine.server)) {
      await stopProcess(engine.server, 1000);
    }
  }

  async function takeSample(): Promise<Sample> {
    const running: number[] = [];
    let instance: { host: number; instance: string } | undefined;
    for (const h of hosts) {
      if (h.dead || !h.hv) continue;
      const doms = await h.hv.listDomains().catch(() => []);
      // A QEMU that libvirt is still launching (paused, "starting up") has not got the lease yet, and may never.
      const d = doms.find((x) => x.uuid === ENGINE_VM_ID && x.state !== DomainState.Shutoff && x.state !== DomainState.Crashed && x.state !== DomainState.NoState && !(x.state === DomainState.Paused && x.reason === PAUSED_STARTING_UP));
      if (!d) continue;
      running.push(h.id);
      if (d.state === DomainState.Running) instance = { host: h.id, instance: `${h.id}:${d.id}` };
    }
    if (running.length <= 1) await follow(running.length === 1 ? instance : undefined);
    let healthy = false;
    if (running.length === 1) {
      const s = await callBroker<BrokerStatus>(byId(running[0]!).brokerSocket, 'status', {}, 2000).catch(() => undefined);
      healthy = s?.readings.engine.vm === 'up' && s.readings.engine.health === 'good';
    }
    return { at: Date.now(), running, healthy };
  }

  sampler = (async () => {
    while (sampling) {
      const started = Date.now();
      try {
        const s = await takeSample();
        samples.push(s);
        if (samples.length > 20_000) samples.splice(0, 10_000);
        maxRunning = Math.max(maxRunning, s.running.length);
      } catch {
        /* a host going away mid-sample; the next sample tells */
      }
      await sleep(Math.max(0, 100 - (Date.now() - started)));
    }
  })();

  const cluster: Cluster = {
    net,
    hosts,
    dir,
    profile,
    vmId: ENGINE_VM_ID,
    maxRunning: () => maxRunning,
    last: () => samples[samples.length - 1] ?? { at: 0, running: [], healthy: false },
    samplesSince: (since) => samples.filter((s) => s.at >= since),
    async until(what, pred, timeoutMs) {
      const from = Date.now();
      let seen = samples.length;
      while (Date.now() - from < timeoutMs) {
        for (; seen < samples.length; seen++) if (samples[seen]!.at >= from && pred(samples[seen]!)) return samples[seen]!;
        await sleep(50);
      }
      const l = cluster.last();
      throw new Error(`${what}: not within ${timeoutMs} ms (last sample: running on [${l.running.join(',')}], healthy ${l.healthy})`);
    },
    broker: (id) => callBroker<BrokerStatus>(byId(id).brokerSocket, 'status', {}, 10_000),
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
          const libvirt = tail(join(h.libvirtd.dir, 'libvirtd.log'), (l) => / error : /.test(l) && !/dmi|udev|GDBus/.test(l)).map((l) => `  libvirtd: ${l.slice(11, 23)} ${l.replace(/^.* error : /, '')}`);
          return [`host ${h.id}${h.dead ? ' (dead)' : ''}:`, ...agent, ...libvirt].join('\n');
        })
        .join('\n');
    },
    startAgent: (id) => startAgent(byId(id)),
    // In the host's namespace: the CLI talks to that host's vdsmd on its loopback.
    hostedEngine: (id, args) => net.exec(byId(id).ns, [process.execPath, join(ROOT, 'dist/cli/hosted-engine.js'), '--conf', byId(id).conf, ...args], { timeoutMs: 30_000 }),
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
        h.dead = true;
        // Everything in the namespace at once (QEMU, libvirtd, sanlock, vdsmd, broker, agent), as a power cut.
        const pids = (await runCommand('ip', ['netns', 'pids', h.ns], { env: process.env })).stdout.split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 1);
        for (const p of pids) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
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
  /** Fault → the engine VM's QEMU running (under the lease) on exactly one host. */
  upMs: number;
  /** Fault → that host's broker reads the engine as up with a good health page. */
  healthyMs: number;
  host: number;
  /** Samples since the fault with the engine VM on more than one host (must be none). */
  twice: Sample[];
}

/** Waits for the engine VM to be Up, then healthy, after a fault at `at` (`elsewhere`: on a host other than `victim`). */
export async function measureRecovery(c: Cluster, at: number, victim: number, opts: { elsewhere?: boolean; timeoutMs?: number; what?: string } = {}): Promise<Recovery> {
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const what = opts.what ?? 'recovery';
  const wanted = (s: Sample) => s.running.length === 1 && (!opts.elsewhere || s.running[0] !== victim);
  const up = await c.until(`${what}: the engine VM Up${opts.elsewhere ? ' on another host' : ''}`, wanted, timeoutMs);
  const healthy = await c.until(`${what}: the engine healthy`, (s) => wanted(s) && s.healthy, timeoutMs);
  return { upMs: up.at - at, healthyMs: healthy.at - at, host: healthy.running[0]!, twice: c.samplesSince(at).filter((s) => s.running.length > 1) };
}

/** The engine VM Up and healthy on exactly one host, and still so 2 s later; returns that host. */
export async function settledEngine(c: Cluster, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100; i++) {
    const first = await c.until('the engine VM Up and healthy on one host', (s) => s.running.length === 1 && s.healthy, Math.max(1000, deadline - Date.now()));
    await sleep(2000);
    const now = c.last();
    if (now.running.length === 1 && now.running[0] === first.running[0] && now.healthy) return first.running[0]!;
  }
  throw new Error('the engine VM never stayed Up and healthy on one host for 2 s');
}
