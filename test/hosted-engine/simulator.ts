/**
 * A deterministic world for the hosted-engine core (the Proxmox ha-manager way): N hosts run the real
 * step() on a fake clock against shared in-memory whiteboard slots, one engine VM guarded by a simulated
 * sanlock lease, and the faults of the classic HA test plan. It writes an event log to compare line by line.
 */
import { DEFAULT_CONFIG, type HaConfig } from '../../src/hosted-engine/config.js';
import { INITIAL_STATE, step, type AgentState } from '../../src/hosted-engine/fsm.js';
import type { ActionKind, ActionResult, EngineHealth, HostBlock, Observations } from '../../src/hosted-engine/types.js';

const BOOT_SECS = 30; // qemu start to "Up" in vdsm
const ENGINE_READY_SECS = 90; // boot to the engine's health page saying "DB Up"
const STOP_SECS = 30; // graceful guest shutdown
const LEASE_DEAD_SECS = 140; // sanlock: a dead host's lease is free this long after its last renewal
const LEASE_KILL_SECS = 80; // sanlock kills the VM when its host cannot renew for this long
const VDSM_RESTART_SECS = 30;
const LOCK_ERROR = 'Storage of VM is locked. Is another host already starting the VM?';

interface Qemu {
  startedAt: number;
  stopAt: number | null;
  paused: boolean;
}

interface SimHost {
  id: number;
  up: boolean;
  bootAt: number;
  network: boolean;
  storage: boolean;
  storageLostAt: number | null;
  vdsmUpAt: number;
  cpuLoad: number;
  memFreeMiB: number;
  localMaintenance: boolean;
  state: AgentState;
  nextTick: number;
  pendingResult?: ActionResult;
  qemu: Qemu | null;
  /** What vdsm reports when the VM is not here: after a crash, a lock failure, a clean stop. */
  lastExit: EngineHealth;
  score: number;
  removed: boolean;
}

export interface SimResult {
  log: string[];
  /** Which host runs the engine VM (healthy or not) when the run ends; 0 for none. */
  runningAt: number;
}

const notHere: EngineHealth = { vm: 'down', health: 'bad', detail: 'unknown', reason: 'vm not running on this host' };

export class HaSimulator {
  readonly log: string[] = [];
  private readonly hosts = new Map<number, SimHost>();
  private readonly slots = new Map<number, HostBlock>();
  private view = new Map<number, HostBlock>();
  private globalMaintenance = false;
  private engineServiceOk = true;
  private vmNetworkOk = true;
  private flapEvery = 0;
  private lease: { host: number; renewedAt: number } | null = null;
  /** Seconds at which the engine was up, healthy, and its host's agent knew it (EngineUp). */
  private readonly healthy: number[] = [];
  t = 0;

  constructor(private readonly cfg: HaConfig = DEFAULT_CONFIG) {}

  addHost(id: number): void {
    this.hosts.set(id, {
      id, up: true, bootAt: this.t, network: true, storage: true, storageLostAt: null, vdsmUpAt: this.t, cpuLoad: 0.1, memFreeMiB: 16384,
      localMaintenance: false, state: INITIAL_STATE, nextTick: this.t + (id % 10), qemu: null, lastExit: notHere, score: 0, removed: false,
    });
    this.note(`host${id} joins`);
  }

  private note(line: string): void {
    this.log.push(`t=${String(this.t).padStart(5, '0')} ${line}`);
  }

  private host(id: number): SimHost {
    const h = this.hosts.get(id);
    if (!h) throw new Error(`no host${id}`);
    return h;
  }

  /** Applies one scenario command (see scenarios/README). */
  command(words: string[]): void {
    const [verb, a, b] = words;
    const onOff = (w: string | undefined) => w === 'on' || w === 'down' || w === 'fail';
    this.note(`# ${words.join(' ')}`);
    switch (verb) {
      case 'add-host': return this.addHost(Number(a));
      case 'crash': return this.crash(this.host(Number(a)));
      case 'boot': return this.boot(this.host(Number(a)));
      case 'remove-host': return this.removeHost(this.host(Number(a)));
      case 'network': this.host(Number(b)).network = !onOff(a); return;
      case 'all-networks': for (const h of this.hosts.values()) h.network = !onOff(a); return;
      case 'storage': {
        const h = this.host(Number(b));
        h.storage = !onOff(a);
        h.storageLostAt = h.storage ? null : this.t;
        // The agent cannot reach the whiteboard: upstream's agent exits and systemd restarts it afresh.
        if (h.storage) h.state = INITIAL_STATE;
        return;
      }
      case 'vdsm-crash': this.host(Number(a)).vdsmUpAt = this.t + VDSM_RESTART_SECS; return;
      case 'kill-vm': return this.killVm('killed');
      case 'engine-service': this.engineServiceOk = !onOff(a); return;
      case 'vm-network': this.vmNetworkOk = !onOff(a); return;
      case 'flap': this.flapEvery = Number(a); return;
      case 'global-maintenance': this.globalMaintenance = onOff(a); return;
      case 'local-maintenance': this.host(Number(b)).localMaintenance = onOff(a); return;
      case 'cpu': this.host(Number(a)).cpuLoad = Number(b); return;
      case 'mem-free': this.host(Number(a)).memFreeMiB = Number(b); return;
      case 'sync': for (const h of this.hosts.values()) h.nextTick = this.t; return;
      default: throw new Error(`unknown command ${words.join(' ')}`);
    }
  }

  private crash(h: SimHost): void {
    h.up = false;
    if (h.qemu) {
      h.qemu = null;
      this.note(`engine VM dies with host${h.id} (lease stays held)`);
    }
  }

  private boot(h: SimHost): void {
    Object.assign(h, { up: true, bootAt: this.t, state: INITIAL_STATE, nextTick: this.t + 5, lastExit: notHere, vdsmUpAt: this.t });
  }

  private removeHost(h: SimHost): void {
    // A clean agent stop publishes stopped=1, then the host goes away for good.
    const block = this.slots.get(h.id);
    if (block) this.slots.set(h.id, { ...block, stopped: true, state: 'AgentStopped', score: 0 });
    h.removed = true;
    h.up = false;
  }

  private killVm(how: string): void {
    for (const h of this.hosts.values()) {
      if (!h.qemu) continue;
      h.qemu = null;
      h.lastExit = { vm: 'down_unexpected', health: 'bad', detail: 'Down', reason: 'bad vm status' };
      this.releaseLease(h.id);
      this.note(`engine VM on host${h.id} ${how}`);
    }
  }

  private releaseLease(host: number): void {
    if (this.lease?.host === host) this.lease = null;
  }

  private runningHost(): SimHost | undefined {
    return [...this.hosts.values()].find((h) => h.qemu);
  }

  /** What vdsm's VM.getStats tells the engine-health monitor on host h (specs §3 decision table). */
  private engineSeenBy(h: SimHost): EngineHealth {
    if (this.t < h.vdsmUpAt) return { vm: 'unknown', health: 'unknown', detail: 'unknown', reason: 'failed to getVmStats' };
    const q = h.qemu;
    if (!q) return h.lastExit;
    if (q.paused) return { vm: 'up', health: 'bad', detail: 'Paused', reason: 'bad vm status' };
    const age = this.t - q.startedAt;
    if (age < BOOT_SECS) return { vm: 'up', health: 'bad', detail: 'Powering up', reason: 'bad vm status' };
    const detail = q.stopAt !== null ? 'Powering down' : 'Up';
    const flapping = this.flapEvery > 0 && Math.floor(this.t / this.flapEvery) % 2 === 1;
    const healthy = age >= ENGINE_READY_SECS && this.engineServiceOk && this.vmNetworkOk && h.network && !flapping;
    return healthy ? { vm: 'up', health: 'good', detail } : { vm: 'up', health: 'bad', detail, reason: 'failed liveliness check' };
  }

  private act(h: SimHost, kind: ActionKind): ActionResult {
    if (this.t < h.vdsmUpAt) return { kind, ok: false, detail: 'vdsmd not reachable' };
    switch (kind) {
      case 'start-vm': {
        if (h.qemu) return { kind, ok: true, detail: 'VM exists' };
        const lease = this.lease;
        const owner = lease ? this.hosts.get(lease.host) : undefined;
        const leaseFree = !lease || (!owner?.up && this.t - lease.renewedAt >= LEASE_DEAD_SECS) || (owner?.up && !owner.storage && this.t - lease.renewedAt >= LEASE_DEAD_SECS);
        if (!leaseFree) {
          // VM.create answers WaitForLaunch; qemu then fails on the lease and the VM is Down with the lock error.
          h.lastExit = { vm: 'down', health: 'bad', detail: 'Down', reason: LOCK_ERROR };
          this.note(`host${h.id} starts the engine VM: lease held by host${lease!.host}, qemu refused`);
          return { kind, ok: true };
        }
        this.lease = { host: h.id, renewedAt: this.t };
        h.qemu = { startedAt: this.t, stopAt: null, paused: false };
        this.engineServiceOk = true; // a fresh boot brings the engine's services back
        this.vmNetworkOk = true;
        this.note(`engine VM starts on host${h.id}`);
        return { kind, ok: true };
      }
      case 'stop-vm':
        if (!h.qemu) return { kind, ok: false, detail: 'no such VM' };
        h.qemu.stopAt ??= this.t + STOP_SECS;
        this.note(`host${h.id} shuts the engine VM down`);
        return { kind, ok: true };
      case 'poweroff-vm':
        if (h.qemu) {
          h.qemu = null;
          this.releaseLease(h.id);
          this.note(`host${h.id} powers the engine VM off`);
        }
        h.lastExit = { vm: 'down', health: 'bad', detail: 'Down', reason: 'vm not running on this host' };
        return { kind, ok: true };
    }
  }

  private worldSecond(): void {
    for (const h of this.hosts.values()) {
      const q = h.qemu;
      if (!q) continue;
      if (q.stopAt !== null && this.t >= q.stopAt) {
        h.qemu = null;
        h.lastExit = { vm: 'down', health: 'bad', detail: 'Down', reason: 'vm not running on this host' };
        this.releaseLease(h.id);
        this.note(`engine VM on host${h.id} shut down`);
      } else if (h.storageLostAt !== null && this.t - h.storageLostAt >= LEASE_KILL_SECS) {
        h.qemu = null;
        h.lastExit = { vm: 'down_unexpected', health: 'bad', detail: 'Down', reason: 'bad vm status' };
        this.note(`sanlock kills the engine VM on host${h.id} (lease not renewed)`);
      }
    }
    // The lease is renewed while its host is up with storage.
    const owner = this.lease ? this.hosts.get(this.lease.host) : undefined;
    if (this.lease && owner?.up && owner.storage) this.lease.renewedAt = this.t;
  }

  private tick(h: SimHost): boolean {
    // What the storage held at the start of this second: hosts ticking in the same second race blind.
    const others = [...this.view.values()].filter((b) => b.hostId !== h.id);
    const obs: Observations = {
      now: this.t - h.bootAt + 1000, // each host's own monotonic clock
      globalMaintenance: this.globalMaintenance,
      localMaintenance: h.localMaintenance,
      network: h.network ? 1 : 0,
      bridgeUp: this.t >= h.vdsmUpAt ? h.network : null,
      memFreeMiB: h.memFreeMiB,
      cpuLoad: h.cpuLoad,
      engine: this.engineSeenBy(h),
      remote: others,
      configUpToDate: true,
      engineMemMiB: 4096,
      result: h.pendingResult,
    };
    const r = step(h.state, obs, this.cfg);
    h.pendingResult = undefined;
    for (const line of r.log) this.note(`host${h.id} ${line} [score ${r.score}]`);
    h.state = r.state;
    for (const kind of r.actions) h.pendingResult = this.act(h, kind);
    if ((r.score === 0) !== (h.score === 0) && r.log.length === 0) this.note(`host${h.id} score ${h.score} -> ${r.score}${r.scoreReasons.length ? ` (${r.scoreReasons.join(', ')})` : ''}`);
    h.score = r.score;
    this.slots.set(h.id, {
      hostId: h.id, hostTs: obs.now, score: r.score, engineStatus: this.engineSeenBy(h), hostname: `host${h.id}`, maintenance: h.localMaintenance,
      stopped: false, confOnSharedStorage: true, localConfTimestamp: obs.now, state: r.state.name,
    });
    return r.wait;
  }

  /** Runs until `end` (simulated seconds), applying `commands` at their times; checks the invariants every second. */
  run(end: number, commands: { at: number; words: string[] }[]): SimResult {
    const queue = [...commands].sort((a, b) => a.at - b.at);
    for (; this.t <= end; this.t++) {
      while (queue.length && queue[0]!.at <= this.t) this.command(queue.shift()!.words);
      this.worldSecond();
      this.view = new Map(this.slots);
      for (const h of this.hosts.values()) {
        if (!h.up || h.removed || !h.storage || this.t < h.nextTick) continue;
        // NOWAIT re-ticks at once; bounded so a bug cannot spin.
        let waited = false;
        for (let i = 0; i < 5 && !waited; i++) waited = this.tick(h);
        h.nextTick = this.t + this.cfg.loopDelay;
      }
      const running = [...this.hosts.values()].filter((h) => h.qemu);
      const r = running[0];
      if (r && r.state.name === 'EngineUp' && this.engineSeenBy(r).health === 'good') this.healthy.push(this.t);
      if (running.length > 1) throw new Error(`t=${this.t}: the engine VM runs on hosts ${running.map((h) => h.id).join(' and ')}`);
    }
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
