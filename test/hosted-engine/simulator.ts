/**
 * A deterministic world for the hosted-engine agent (the Proxmox ha-manager way): each simulated host runs
 * the REAL HaAgent (src/hosted-engine/agent.ts) through a simulated AgentEnv: a simulated clock, the host's
 * vdsmd and engine VM, shared whiteboard slots, and one engine VM lease with sanlock's semantics. Faults
 * are the classic HA test plan's. It writes an event log to compare line by line.
 *
 * Time moves in whole seconds. In each second the world changes first (commands, qemu exits, sanlock), then
 * every agent whose sleep ends runs until it sleeps again (promises only: no timers anywhere, so one
 * setImmediate drains them all). Agents read the whiteboard as it was at the start of the second: hosts
 * ticking in the same second race blind, as on real storage.
 */
import type { AgentEnv, AgentLog } from '../../src/hosted-engine/agent-env.js';
import { HaAgent } from '../../src/hosted-engine/agent.js';
import type { BrokerStatus } from '../../src/hosted-engine/broker/schemas.js';
import { DEFAULT_CONFIG, type HaConfig } from '../../src/hosted-engine/config.js';
import type { LeaseHolder } from '../../src/hosted-engine/lease.js';
import type { EngineHealth, HostBlock } from '../../src/hosted-engine/types.js';

const BOOT_SECS = 30; // qemu start to "Up" in vdsm
const ENGINE_READY_SECS = 90; // boot to the engine's health page saying "DB Up"
const STOP_SECS = 30; // graceful guest shutdown
const IO_TIMEOUT = 10; // sanlock's default io_timeout
const HOST_FAIL_SECS = 8 * IO_TIMEOUT; // a host-id lease not renewed this long: FAIL, and sanlock kills that host's VM
const HOST_DEAD_SECS = 8 * IO_TIMEOUT + 60; // ... DEAD: its resource leases are free
const VDSM_RESTART_SECS = 30;
const AGENT_START_SECS = 5; // boot to the agent's first tick
const MAX_TICKS_PER_SECOND = 20; // more means an agent spins (NOWAIT forever)
const LOCK_ERROR = 'Failed to acquire lock: error -243 (sanlock: lease held by another host)';

interface Qemu {
  startedAt: number;
  stopAt: number | null;
  paused: boolean;
}

interface SimHost {
  id: number;
  up: boolean;
  removed: boolean;
  bootAt: number;
  network: boolean;
  storage: boolean;
  storageLostAt: number | null;
  vdsmUpAt: number;
  cpuLoad: number;
  memFreeMiB: number;
  localMaintenance: boolean;
  qemu: Qemu | null;
  /** A Down engine VM still listed by vdsmd, as the engine-health monitor reports it. */
  downVm: EngineHealth | null;
  /** sanlock: last renewal of this host's host-id lease, and its generation (a new one on every join). */
  idRenewedAt: number;
  gen: number;
  inLockspace: boolean;
  agent: HaAgent | null;
  agentStartAt: number | null;
  sleeper: { at: number; resolve: () => void } | null;
  ticksThisSecond: number;
  score: number;
  /** Transition lines since the last block written (a score change without one gets its own line). */
  transitions: number;
  /** This second's lines, and the last burst printed, for folding identical bursts. */
  burst: string[];
  last: string[];
  lastAt: number;
  repeats: { count: number; first: number; last: number };
}

export interface SimOptions {
  /**
   * From this second on the simulated lease always grants (no arbitration), to show what the lease alone
   * prevents; undefined: it arbitrates throughout.
   */
  noArbitrationFrom?: number;
}

export interface SimResult {
  log: string[];
  /** Which host runs the engine VM (healthy or not) when the run ends; 0 for none. */
  runningAt: number;
}

const notHere: EngineHealth = { vm: 'down', health: 'bad', detail: 'unknown', reason: 'vm not running on this host' };
const pad = (t: number) => String(t).padStart(5, '0');
const rpcError = (code: number, message: string) => Object.assign(new Error(message), { code });

export class HaSimulator {
  readonly log: string[] = [];
  private readonly hosts = new Map<number, SimHost>();
  private readonly slots = new Map<number, HostBlock>();
  private view = new Map<number, HostBlock>();
  private globalMaintenance = false;
  private engineServiceOk = true;
  private vmNetworkOk = true;
  private flapEvery = 0;
  /** The engine VM resource lease's leader record: owner and the owner's host-id generation; null when free. */
  private lease: { owner: number; gen: number } | null = null;
  private readonly noArbitrationFrom: number | undefined;
  private fatal: string | undefined;
  /** Seconds at which the engine was up, healthy, and its host's agent said EngineUp. */
  private readonly healthy: number[] = [];
  t = 0;

  constructor(
    private readonly cfg: HaConfig = DEFAULT_CONFIG,
    opts: SimOptions = {},
  ) {
    this.noArbitrationFrom = opts.noArbitrationFrom;
  }

  private get arbitration(): boolean {
    return this.noArbitrationFrom === undefined || this.t < this.noArbitrationFrom;
  }

  addHost(id: number): void {
    this.hosts.set(id, {
      id,
      up: true,
      removed: false,
      bootAt: this.t,
      network: true,
      storage: true,
      storageLostAt: null,
      vdsmUpAt: this.t,
      cpuLoad: 0.1,
      memFreeMiB: 16384,
      localMaintenance: false,
      qemu: null,
      downVm: null,
      idRenewedAt: this.t,
      gen: 1,
      inLockspace: true,
      agent: null,
      agentStartAt: this.t + (id % 10),
      sleeper: null,
      ticksThisSecond: 0,
      score: 0,
      transitions: 0,
      burst: [],
      last: [],
      lastAt: 0,
      repeats: { count: 0, first: 0, last: 0 },
    });
    this.note(`host${id} joins`);
  }

  private note(line: string): void {
    this.log.push(`t=${pad(this.t)} ${line}`);
  }

  private hostNote(h: SimHost, line: string): void {
    h.burst.push(`host${h.id} ${line}`);
  }

  private host(id: number): SimHost {
    const h = this.hosts.get(id);
    if (!h) throw new Error(`no host${id}`);
    return h;
  }

  /** Applies one scenario command (the list: docs/hosted-engine.md, "Scenarios"). */
  async command(words: string[]): Promise<void> {
    const [verb, a, b] = words;
    const onOff = (w: string | undefined) => w === 'on' || w === 'down' || w === 'fail';
    this.note(`# ${words.join(' ')}`);
    switch (verb) {
      case 'add-host':
        return this.addHost(Number(a));
      case 'crash':
        return this.crash(this.host(Number(a)));
      case 'boot':
        return this.boot(this.host(Number(a)));
      case 'remove-host':
        return this.removeHost(this.host(Number(a)));
      case 'network':
        this.host(Number(b)).network = !onOff(a);
        return;
      case 'all-networks':
        for (const h of this.hosts.values()) h.network = !onOff(a);
        return;
      case 'storage': {
        const h = this.host(Number(b));
        h.storage = !onOff(a);
        h.storageLostAt = h.storage ? null : this.t;
        return;
      }
      case 'vdsm-crash':
        this.host(Number(a)).vdsmUpAt = this.t + VDSM_RESTART_SECS;
        return;
      case 'kill-vm':
        return this.killVm();
      case 'engine-service':
        this.engineServiceOk = !onOff(a);
        return;
      case 'vm-network':
        this.vmNetworkOk = !onOff(a);
        return;
      case 'flap':
        this.flapEvery = Number(a);
        return;
      case 'global-maintenance':
        this.globalMaintenance = onOff(a);
        return;
      case 'local-maintenance':
        this.host(Number(b)).localMaintenance = onOff(a);
        return;
      case 'cpu':
        this.host(Number(a)).cpuLoad = Number(b);
        return;
      case 'mem-free':
        this.host(Number(a)).memFreeMiB = Number(b);
        return;
      default:
        throw new Error(`unknown command ${words.join(' ')}`);
    }
  }

  /** Power off: the agent stops mid-sleep (its promise is dropped), qemu dies, its leases stay on disk. */
  private crash(h: SimHost): void {
    h.up = false;
    h.agent = null;
    h.sleeper = null;
    h.downVm = null;
    if (h.qemu) {
      h.qemu = null;
      this.note(`engine VM dies with host${h.id} (its lease stays held on disk)`);
    }
  }

  private boot(h: SimHost): void {
    Object.assign(h, { up: true, bootAt: this.t, vdsmUpAt: this.t, agentStartAt: this.t + AGENT_START_SECS });
    this.joinLockspace(h);
  }

  /** A new generation of the host id: leases its earlier generation held are free for the others now. */
  private joinLockspace(h: SimHost): void {
    h.gen++;
    h.idRenewedAt = this.t;
    h.inLockspace = true;
  }

  /** A clean agent stop (the real HaAgent.stop(): it publishes stopped=1), then the host goes away for good. */
  private async removeHost(h: SimHost): Promise<void> {
    await h.agent?.stop();
    h.agent = null;
    h.removed = true;
    h.up = false;
  }

  /** qemu dies here (kill -9): vdsmd lists the VM Down with an error, and qemu's exit frees the lease. */
  private killVm(): void {
    for (const h of this.hosts.values()) {
      if (!h.qemu) continue;
      this.qemuExit(h, { vm: 'down_unexpected', health: 'bad', detail: 'Down', reason: 'bad vm status' }, true);
      this.note(`engine VM on host${h.id} killed`);
    }
  }

  private qemuExit(h: SimHost, down: EngineHealth | null, freesLease: boolean): void {
    h.qemu = null;
    h.downVm = down;
    if (freesLease && this.lease?.owner === h.id) this.lease = null;
  }

  /** sanlock's view of a host's host-id lease, from any host (it is on shared storage). */
  private hostState(id: number): 'LIVE' | 'FAIL' | 'DEAD' {
    const age = this.t - this.host(id).idRenewedAt;
    return age < HOST_FAIL_SECS ? 'LIVE' : age < HOST_DEAD_SECS ? 'FAIL' : 'DEAD';
  }

  /** The lease's holder as `sanlock direct read_leader` + `client gets` say (SanlockLease.holder). */
  private leaseHolder(): LeaseHolder | null {
    if (!this.lease) return null;
    const owner = this.host(this.lease.owner);
    if (owner.gen !== this.lease.gen) return null; // the owner rejoined since: that hold is gone
    const state = this.hostState(owner.id);
    return state === 'DEAD' ? null : { hostId: owner.id, renewedAt: owner.idRenewedAt, state };
  }

  private runningHost(): SimHost | undefined {
    return [...this.hosts.values()].find((h) => h.qemu);
  }

  /** What vdsm's VM.getStats tells the engine-health monitor on host h (the table in docs/hosted-engine.md). */
  private engineSeenBy(h: SimHost): EngineHealth {
    if (this.t < h.vdsmUpAt)
      return { vm: 'unknown', health: 'unknown', detail: 'unknown', reason: 'failed to getVmStats' };
    const q = h.qemu;
    if (!q) return h.downVm ?? notHere;
    if (q.paused) return { vm: 'up', health: 'bad', detail: 'Paused', reason: 'bad vm status' };
    const age = this.t - q.startedAt;
    if (age < BOOT_SECS) return { vm: 'up', health: 'bad', detail: 'Powering up', reason: 'bad vm status' };
    const detail = q.stopAt !== null ? 'Powering down' : 'Up';
    const flapping = this.flapEvery > 0 && Math.floor(this.t / this.flapEvery) % 2 === 1;
    const healthy = age >= ENGINE_READY_SECS && this.engineServiceOk && this.vmNetworkOk && h.network && !flapping;
    return healthy
      ? { vm: 'up', health: 'good', detail }
      : { vm: 'up', health: 'bad', detail, reason: 'failed liveliness check' };
  }

  private vdsm(h: SimHost): void {
    if (this.t < h.vdsmUpAt) throw new Error('vdsmd not reachable');
  }

  private storage(h: SimHost): void {
    if (!h.storage) throw new Error('whiteboard read: EIO');
  }

  /** Host h's AgentEnv: its broker, vdsmd, engine VM and the shared lease, on the simulated clock. */
  private env(h: SimHost): AgentEnv {
    const line = (fields: Record<string, unknown>, msg: string) => {
      if (typeof fields.score === 'number') {
        h.transitions++;
        return this.hostNote(h, `${msg} [score ${fields.score}]`);
      }
      const extra = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${String(v)}`);
      this.hostNote(h, `${msg}${extra.length ? ` (${extra.join(' ')})` : ''}`);
    };
    const log: AgentLog = { info: line, warn: line, error: line };
    const status = (): BrokerStatus => {
      this.storage(h);
      if (++h.ticksThisSecond > MAX_TICKS_PER_SECOND)
        this.fatal ??= `t=${this.t}: host${h.id}'s agent ticks without waiting`;
      return {
        hostId: h.id,
        globalMaintenance: this.globalMaintenance,
        hosts: [...this.view.values()],
        extras: {},
        problems: [],
        alive: null,
        localMaintenance: h.localMaintenance,
        readings: {
          network: h.network ? 1 : 0,
          bridgeUp: this.t >= h.vdsmUpAt ? h.network : null,
          memFreeMiB: h.memFreeMiB,
          cpuLoad: h.cpuLoad,
          engine: this.engineSeenBy(h),
          storageOk: h.storage,
        },
        lockspace: { joined: h.inLockspace, error: null },
      };
    };
    return {
      hostname: `host${h.id}`,
      log,
      now: () => this.t - h.bootAt + 1000, // each host's own monotonic clock
      sleep: (seconds, signal) =>
        new Promise<void>((resolve) => {
          if (signal.aborted) return resolve();
          const wake = () => {
            signal.removeEventListener('abort', wake);
            resolve();
          };
          h.sleeper = { at: this.t + Math.ceil(seconds), resolve: wake };
          signal.addEventListener('abort', wake, { once: true });
        }),
      readStatus: async () => status(),
      readPulse: async () => {
        this.storage(h);
        const hosts = [...this.view.values()].map((b) => `${b.hostId}:${b.engineStatus.vm}`);
        return [this.engineSeenBy(h).vm, this.globalMaintenance, ...hosts].join('|');
      },
      writeBlock: async (block) => {
        this.storage(h);
        if (!block.stopped && (block.score === 0) !== (h.score === 0) && h.transitions === 0)
          this.hostNote(h, `score ${h.score} -> ${block.score}`);
        h.score = block.score;
        h.transitions = 0;
        this.slots.set(h.id, { ...block });
      },
      reportAlive: async () => {},
      confirmLeaseHold: async () => !this.arbitration || this.leaseHolder()?.hostId === h.id,
      releaseLeaseAfterStop: async () => {
        // sanlock: nothing to do, qemu holds the lease. Worth a line only when this host does hold it.
        if (this.arbitration && this.leaseHolder()?.hostId === h.id)
          this.hostNote(h, 'releases the engine VM lease while its qemu holds it');
      },
      prepareLeaseForStart: async () => {
        if (!this.arbitration) return true;
        const holder = this.leaseHolder();
        return holder === null || holder.hostId === h.id;
      },
      leaseHolder: async () => (this.arbitration ? this.leaseHolder() : null),
      vmStatus: async () => {
        this.vdsm(h);
        if (h.qemu) return this.engineSeenBy(h).detail;
        if (h.downVm) return 'Down';
        throw rpcError(1, 'Virtual machine does not exist');
      },
      createVm: async (paused) => {
        this.vdsm(h);
        if (h.qemu || h.downVm) throw rpcError(4, 'Virtual machine already exists');
        // libvirt's sanlock lock manager acquires the lease for qemu before exec: the start is the arbiter.
        const holder = this.leaseHolder();
        if (this.arbitration && holder !== null && holder.hostId !== h.id) {
          h.downVm = { vm: 'down', health: 'bad', detail: 'Down', reason: LOCK_ERROR };
          this.hostNote(h, `VM.create: qemu refused, the lease is held by host${holder.hostId}`);
          return 'WaitForLaunch';
        }
        this.lease = { owner: h.id, gen: h.gen };
        h.qemu = { startedAt: this.t, stopAt: null, paused };
        this.engineServiceOk = true; // a fresh boot brings the engine's services back
        this.vmNetworkOk = true;
        this.hostNote(h, 'VM.create: the engine VM starts here');
        return 'WaitForLaunch';
      },
      destroyVm: async () => {
        this.vdsm(h);
        if (h.qemu) {
          this.qemuExit(h, null, true);
          this.hostNote(h, 'VM.destroy: the engine VM is powered off');
          return true;
        }
        if (h.downVm) {
          h.downVm = null;
          this.hostNote(h, 'VM.destroy: the Down engine VM is removed');
          return true;
        }
        return false;
      },
      shutdownVm: async () => {
        this.vdsm(h);
        if (!h.qemu) throw rpcError(1, 'Virtual machine does not exist');
        h.qemu.stopAt ??= this.t + STOP_SECS;
        this.hostNote(h, 'VM.shutdown: the guest shuts down');
      },
    };
  }

  private worldSecond(): void {
    for (const h of this.hosts.values()) {
      const q = h.qemu;
      if (q && q.stopAt !== null && this.t >= q.stopAt) {
        this.qemuExit(h, { vm: 'down', health: 'bad', detail: 'Down', reason: 'vm not running on this host' }, true);
        this.note(`engine VM on host${h.id} shut down`);
      }
      // sanlock renews the host-id lease while the host is up and reaches the storage; after failing to for
      // 8 × io_timeout it kills the VM holding a lease there (which cannot free it: no storage) and leaves.
      if (h.up && h.storage) {
        if (!h.inLockspace) this.joinLockspace(h); // the broker rejoins once the storage answers
        h.idRenewedAt = this.t;
      } else if (h.up && h.inLockspace && this.t - h.idRenewedAt >= HOST_FAIL_SECS) {
        h.inLockspace = false;
        if (h.qemu) {
          this.qemuExit(h, { vm: 'down_unexpected', health: 'bad', detail: 'Down', reason: 'bad vm status' }, false);
          this.note(`sanlock kills the engine VM on host${h.id} (host-id lease not renewed for ${HOST_FAIL_SECS} s)`);
        }
      }
    }
  }

  /** Prints each host's lines of this second; a burst identical to the host's last one is counted, not printed. */
  private flushBursts(final = false): void {
    for (const h of this.hosts.values()) {
      const same = h.burst.length > 0 && h.burst.length === h.last.length && h.burst.every((l, i) => l === h.last[i]);
      if (same) {
        if (h.repeats.count++ === 0) h.repeats.first = this.t;
        h.repeats.last = this.t;
      } else if (h.burst.length > 0 || final) {
        if (h.repeats.count > 0) {
          const { count, first, last } = h.repeats;
          const when = count === 1 ? `at t=${pad(first)}` : `${count} times, t=${pad(first)} to t=${pad(last)}`;
          this.note(`host${h.id} (its lines of t=${pad(h.lastAt)} again ${when})`);
          h.repeats.count = 0;
        }
        for (const l of h.burst) this.note(l);
        if (h.burst.length > 0) {
          h.last = h.burst;
          h.lastAt = this.t;
        }
      }
      h.burst = [];
    }
  }

  /** Runs until `end` (simulated seconds), applying `commands` at their times; checks the invariants every second. */
  async run(end: number, commands: { at: number; words: string[] }[]): Promise<SimResult> {
    const queue = [...commands].sort((a, b) => a.at - b.at);
    for (; this.t <= end; this.t++) {
      while (queue.length && queue[0]!.at <= this.t) await this.command(queue.shift()!.words);
      this.worldSecond();
      this.view = new Map(this.slots);
      for (const h of this.hosts.values()) {
        h.ticksThisSecond = 0;
        if (!h.up || h.removed) continue;
        if (h.agentStartAt === this.t) {
          h.agent = new HaAgent(
            { hostId: h.id, ha: this.cfg, engineMemMiB: 4096, shutdownDelay: STOP_SECS },
            this.env(h),
          );
          h.agent.start();
        } else if (h.sleeper && h.sleeper.at <= this.t) {
          const { resolve } = h.sleeper;
          h.sleeper = null;
          resolve();
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
      this.flushBursts();
      if (this.fatal) throw new Error(this.fatal);
      const running = [...this.hosts.values()].filter((h) => h.qemu);
      const r = running[0];
      if (r && this.slots.get(r.id)?.state === 'EngineUp' && this.engineSeenBy(r).health === 'good')
        this.healthy.push(this.t);
      if (running.length > 1)
        throw new Error(`t=${this.t}: the engine VM runs on hosts ${running.map((h) => h.id).join(' and ')}`);
    }
    this.t--;
    this.flushBursts(true);
    return { log: this.log, runningAt: this.runningHost()?.id ?? 0 };
  }

  /** After `from`: the first second the engine was not healthy in EngineUp, and the first after that when it was again. */
  outage(from: number): { lost?: number; back?: number } {
    const healthy = new Set(this.healthy);
    let lost: number | undefined;
    for (let t = from; t <= this.t; t++) {
      if (lost === undefined && !healthy.has(t)) lost = t;
      else if (lost !== undefined && healthy.has(t)) return { lost, back: t };
    }
    return { lost };
  }
}
