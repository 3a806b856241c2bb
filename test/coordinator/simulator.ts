/**
 * A deterministic world for the HA coordinator (the Proxmox ha-manager way): every replica runs the REAL
 * Coordinator driver and pure core (src/coordinator/core/) through a simulated CoordinatorEnv: a clock in whole
 * seconds, hosts with vdsmd, their VMs and a BMC each, SSH, peer probes, and a store with etcd's leadership and
 * epoch-guarded transactions. Every simulated call settles at once (promises only), so a run is a pure function
 * of its commands. It writes an event log to compare line by line and checks the invariants after every second.
 */
import { Coordinator, type TickReport } from '../../src/coordinator/core/coordinator.js';
import { partitionView } from '../../src/coordinator/core/cluster.js';
import { DEFAULT_COORDINATOR_CONFIG, type CoordinatorConfig } from '../../src/coordinator/core/config.js';
import { PollFailure, type CoordinatorEnv } from '../../src/coordinator/core/env.js';
import type {
  AuditEvent,
  Command,
  FenceAgentRef,
  FenceIntent,
  HostSpec,
  HostStateRecord,
  Power,
  VmRecord,
} from '../../src/coordinator/core/types.js';
import { NOT_IN_RECOVERY } from '../../src/coordinator/core/types.js';

const BOOT_SECS = 60; // power on to vdsmd answering
const VDSM_RESTART_SECS = 5; // systemctl restart vdsmd
const BMC_OFF_SECS = 2; // `off` initiated to power actually off
const LEASE_FAIL_SECS = 80; // sanlock: a host lease not renewed this long is no longer LIVE
const SHUTDOWN_SECS = 3; // VM.shutdown to the guest being down
const LEADER_TTL = 10;

interface SimHost {
  id: string;
  cluster: string;
  agents: FenceAgentRef[];
  memMiB: number;
  powered: boolean;
  upAt: number; // booted (vdsmd may answer) from this second
  vdsm: 'ok' | 'dead' | 'hung';
  vdsmUpAt: number | null;
  coordNet: boolean;
  /** One way cut: the coordinator's calls reach the host (and act), the host's answers never come back. */
  answersLost: boolean;
  peerNet: boolean;
  storage: boolean;
  storageLostAt: number | null;
  bmc: 'ok' | 'dead' | 'lies';
  offAt: number | null;
  fenceErrors: boolean;
  vms: Map<string, 'Up' | 'Paused' | 'Powering down'>;
  /** VMs paused by a kernel hang (they run on when it ends; those paused by lost storage stay paused). */
  hungVms: string[];
  maxEpoch: number;
  flap: { period: number; from: number } | null;
  /** Hosted-engine HA configured (getStats reports haStats), and its local maintenance flag. */
  he: boolean;
  haLocal: boolean;
}

/** A VM.shutdown under way: the guest is down SHUTDOWN_SECS later (the call answers then). */
interface Shutdown {
  host: string;
  vm: string;
  at: number;
  done: (ok: boolean) => void;
}

/** Lets every promise that can settle now settle (the simulated calls settle without timers). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Replica {
  name: string;
  coord: Coordinator;
  belief: { epoch: number; since: number } | null;
  pausedUntil: number | null;
  crashed: boolean;
}

export interface SimOptions {
  cfg?: CoordinatorConfig;
  /** Log every world line (off in the randomized test, which only keeps them for a failure report). */
  quiet?: boolean;
}

const pad = (t: number) => String(t).padStart(5, '0');

export class CoordSimulator {
  readonly log: string[] = [];
  readonly violations: string[] = [];
  readonly hosts = new Map<string, SimHost>();
  readonly replicas: Replica[] = [];
  readonly vmDefs = new Map<string, VmRecord>();
  /** The store: the inventory (hosts and their maintenance flag), the fence intents, the VM records. */
  readonly inventory = new Map<string, HostStateRecord>();
  intents: Record<string, FenceIntent> = {};
  vms: Record<string, VmRecord> = {};
  readonly audit: AuditEvent[] = [];
  private pendingCommands: Command[] = [];
  private etcdUp = true;
  private leader: { replica: string; epoch: number; since: number; renewedAt: number } | null = null;
  private epochs = 100;
  private triggers: { on: string; words: string[] }[] = [];
  private fired: string[] = [];
  private shutdowns: Shutdown[] = [];
  /** VMs a person stopped (VM.shutdown done while their record says stopped), until a vm-start is accepted. */
  private stoppedByPerson = new Set<string>();
  /** Power actions (off/on) sent and when, for the scenario summaries. */
  readonly powerActions: { t: number; host: string; op: string }[] = [];
  readonly creates: { t: number; vm: string; host: string }[] = [];
  t = 0;
  readonly cfg: CoordinatorConfig;

  constructor(private readonly opts: SimOptions = {}) {
    this.cfg = opts.cfg ?? DEFAULT_COORDINATOR_CONFIG;
  }

  note(line: string): void {
    if (!this.opts.quiet) this.log.push(`t=${pad(this.t)} ${line}`);
  }

  addHost(
    id: string,
    cluster = 'A',
    opts: { pm?: boolean; memMiB?: number; agents?: FenceAgentRef[]; he?: boolean; known?: boolean } = {},
  ): void {
    if (opts.known !== false) this.inventory.set(id, { maintenance: false });
    this.hosts.set(id, {
      id,
      cluster,
      agents: opts.agents ?? (opts.pm === false ? [] : [{ name: 'ipmilan', order: 1 }]),
      memMiB: opts.memMiB ?? 16384,
      powered: true,
      upAt: 0,
      vdsm: 'ok',
      vdsmUpAt: null,
      coordNet: true,
      answersLost: false,
      peerNet: true,
      storage: true,
      storageLostAt: null,
      bmc: 'ok',
      offAt: null,
      fenceErrors: false,
      vms: new Map(),
      hungVms: [],
      maxEpoch: 0,
      flap: null,
      he: opts.he ?? false,
      haLocal: false,
    });
  }

  addVm(id: string, host: string, o: { ha?: boolean; priority?: number; memMiB?: number; state?: string }): void {
    const given = o.state ?? 'running';
    const state = (given === 'error-ever-up' ? 'error' : given) as VmRecord['state'];
    const rec: VmRecord = {
      id,
      ha: o.ha ?? false,
      priority: o.priority ?? 0,
      memMiB: o.memMiB ?? 1024,
      owner: host,
      state,
      everUp: given === 'running' || given === 'error-ever-up',
      generation: 1,
      ...NOT_IN_RECOVERY,
    };
    this.vms[id] = rec;
    this.vmDefs.set(id, { ...rec });
    if (rec.state === 'running') this.host(host).vms.set(id, 'Up');
  }

  addReplica(name: string): void {
    const r: Replica = { name, coord: null as unknown as Coordinator, belief: null, pausedUntil: null, crashed: false };
    r.coord = this.coordinator(r);
    this.replicas.push(r);
  }

  when(on: string, words: string[]): void {
    this.triggers.push({ on, words });
  }

  host(id: string): SimHost {
    const h = this.hosts.get(id);
    if (!h) throw new Error(`no host ${id}`);
    return h;
  }

  // --- the world's rules -------------------------------------------------------------------------------------

  private booted(h: SimHost): boolean {
    return h.powered && this.t >= h.upAt;
  }

  /** What a call from the coordinator to the host's vdsmd meets. */
  private reach(h: SimHost): 'ok' | 'refused' | 'timeout' {
    if (!this.booted(h) || !h.coordNet || h.vdsm === 'hung' || this.flapDown(h)) return 'timeout';
    if (h.vdsm === 'dead') return 'refused';
    return 'ok';
  }

  private flapDown(h: SimHost): boolean {
    return h.flap !== null && Math.floor((this.t - h.flap.from) / h.flap.period) % 2 === 0;
  }

  private peerReach(h: SimHost): boolean {
    return this.booted(h) && h.peerNet && h.vdsm === 'ok' && !this.flapDown(h);
  }

  private leaseLive(h: SimHost): boolean {
    if (!h.powered) return false;
    if (h.storage && h.vdsm !== 'hung') return true;
    return h.storageLostAt !== null && this.t - h.storageLostAt < LEASE_FAIL_SECS;
  }

  private powerOff(h: SimHost, why: string): void {
    h.powered = false;
    h.offAt = null;
    h.vms.clear();
    h.hungVms = [];
    h.vdsm = 'ok';
    h.vdsmUpAt = null;
    this.note(`${h.id} powered off (${why})`);
  }

  private powerOn(h: SimHost): void {
    if (h.powered) return;
    h.powered = true;
    h.upAt = this.t + BOOT_SECS;
    this.note(`${h.id} powered on (boots in ${BOOT_SECS} s)`);
  }

  private stale(r: Replica, what: string): void {
    const cur = this.leader;
    if (!this.etcdUp || !cur || r.belief === null || cur.epoch !== r.belief.epoch || cur.replica !== r.name)
      this.violations.push(`t=${this.t}: ${r.name} did ${what} without being the leader`);
  }

  private guarded(r: Replica, epoch: number): boolean {
    const ok =
      !r.crashed &&
      this.etcdUp &&
      this.leader !== null &&
      this.leader.epoch === epoch &&
      this.leader.replica === r.name;
    if (!ok && r.belief !== null) {
      this.note(`${r.name}: transaction refused (epoch ${epoch} is not the leader's): stops acting`);
      r.belief = null;
    }
    return ok;
  }

  private env(r: Replica): CoordinatorEnv {
    const vdsmCall = (id: string) => {
      const h = this.host(id);
      const s = this.reach(h);
      if (s !== 'ok') throw new PollFailure(s);
      if (h.answersLost) throw new PollFailure('timeout');
      return h;
    };
    return {
      log: { info: () => {}, warn: () => {} },
      now: () => this.t,
      sleep: async () => {},
      leadership: async () => (r.crashed ? null : r.belief),
      load: async () => ({
        hosts: [...this.inventory].map(([id, inv]): HostSpec => {
          const h = this.host(id);
          const { maintenance, ...rest } = inv;
          return { id, cluster: h.cluster, agents: h.agents, ...(maintenance ? { maintenance } : {}), ...rest };
        }),
        intents: structuredClone(this.intents),
        vms: Object.values(structuredClone(this.vms)),
      }),
      writeFence: async (epoch, host, intent) => {
        if (!this.guarded(r, epoch)) return false;
        if (intent) this.intents[host] = intent;
        else delete this.intents[host];
        return true;
      },
      writeVm: async (epoch, vm) => {
        if (!this.guarded(r, epoch)) return false;
        this.vms[vm.id] = { ...vm };
        return true;
      },
      writeHost: async (epoch, host, state) => {
        if (!this.guarded(r, epoch)) return false;
        if (state === null) {
          this.inventory.delete(host);
          delete this.intents[host];
        } else this.inventory.set(host, { ...state });
        return true;
      },
      removeVm: async (epoch, vm) => {
        if (!this.guarded(r, epoch)) return false;
        delete this.vms[vm];
        return true;
      },
      stopVm: async (id, vm, epoch) => {
        const h = this.host(id);
        this.stale(r, `VM.shutdown ${vm} on ${id}`);
        if (this.reach(h) !== 'ok' || epoch < h.maxEpoch) return false;
        h.maxEpoch = epoch;
        if (!h.vms.has(vm)) return true;
        h.vms.set(vm, 'Powering down');
        this.note(`${id}: VM.shutdown ${vm} (epoch ${epoch})`);
        this.fire('vm-shutdown');
        if (h.answersLost) {
          this.shutdowns.push({ host: id, vm, at: this.t + SHUTDOWN_SECS, done: () => {} });
          return false;
        }
        return new Promise<boolean>((done) => this.shutdowns.push({ host: id, vm, at: this.t + SHUTDOWN_SECS, done }));
      },
      setHaMaintenance: async (id, on) => {
        const h = this.host(id);
        this.stale(r, `Host.setHaMaintenanceMode on ${id}`);
        if (this.reach(h) !== 'ok' || !h.he) return false;
        h.haLocal = on;
        this.note(`${id}: hosted-engine local maintenance ${on ? 'on' : 'off'}`);
        return !h.answersLost;
      },
      confirmEpoch: async (epoch) => this.guarded(r, epoch),
      audit: async (epoch, event) => {
        if (!this.guarded(r, epoch)) return;
        this.audit.push(event);
        const started = /^vm-start (\S+)(?: on \S+)? by \S+: /.exec(event.text);
        if (event.kind === 'command' && started) this.stoppedByPerson.delete(started[1]!);
      },
      // As the store takes them: deleted under the leader guard, so a replica that is not the leader takes none.
      commands: async () => (r.belief && this.guarded(r, r.belief.epoch) ? this.pendingCommands.splice(0) : []),
      ping: async (id) => {
        vdsmCall(id);
      },
      stats: async (id) => {
        const h = vdsmCall(id);
        const used = [...h.vms.keys()].reduce((s, v) => s + (this.vmDefs.get(v)?.memMiB ?? 0), 0);
        const vms = [...h.vms].map(([vid, status]) => ({ id: vid, status }));
        if (!h.he) return { freeMemMiB: h.memMiB - used, vms };
        const ha = { configured: true, active: true, score: h.haLocal ? 0 : 3400, localMaintenance: h.haLocal };
        return { freeMemMiB: h.memMiB - used, vms, ha: { ...ha, globalMaintenance: false } };
      },
      probe: async (via, target) => {
        const v = this.host(via);
        if (this.reach(v) !== 'ok' || v.answersLost || !v.peerNet) return null;
        return this.peerReach(this.host(target));
      },
      fence: async (proxy, target, agent, op, epoch): Promise<Power> => {
        const p = this.host(proxy);
        const h = this.host(target);
        if (this.reach(p) !== 'ok') throw new Error(`proxy ${proxy} unreachable`);
        if (epoch < p.maxEpoch) return 'error';
        p.maxEpoch = epoch;
        this.stale(r, `Host.fenceNode ${op} for ${target}`); // even a status read: nothing but the leader reaches a BMC
        if (op !== 'status') {
          const view = r.coord.state ? partitionView(Object.values(r.coord.state.hosts), this.cfg) : null;
          if (view?.holds)
            this.violations.push(`t=${this.t}: power ${op} of ${target} while the partition guard holds`);
        }
        if (p.fenceErrors) {
          this.note(`${proxy}: Host.fenceNode ${op} for ${target} (${agent.name}) failed: proxy broken`);
          return 'error';
        }
        if (h.bmc === 'dead') {
          if (op !== 'status') this.note(`${proxy}: Host.fenceNode ${op} for ${target}: BMC does not answer`);
          return 'error';
        }
        if (h.bmc === 'lies') {
          if (op !== 'status') this.note(`${proxy}: Host.fenceNode ${op} for ${target}: the wrong BMC says done`);
          return op === 'status' ? 'off' : 'unknown';
        }
        if (op === 'status') return p.answersLost ? 'error' : h.powered ? 'on' : 'off';
        if (this.leaseLive(h)) {
          this.note(`${proxy}: Host.fenceNode ${op} for ${target}: skipped, its storage lease is live`);
          return 'skipped';
        }
        this.powerActions.push({ t: this.t, host: target, op });
        this.note(`${proxy}: Host.fenceNode ${op} for ${target} (${agent.name}, epoch ${epoch})`);
        if (op === 'off') {
          if (h.powered) h.offAt ??= this.t + BMC_OFF_SECS;
          this.fire('off-sent');
        } else this.powerOn(h);
        if (p.answersLost) throw new Error(`proxy ${proxy}: no answer`);
        return 'unknown';
      },
      sshRestart: async (id) => {
        const h = this.host(id);
        this.stale(r, `SSH restart of ${id}`);
        if (!this.booted(h) || !h.coordNet || h.answersLost || h.vdsm === 'hung' || this.flapDown(h)) {
          this.note(`ssh ${id}: connect timeout`);
          return { ok: false, detail: 'connect timeout' };
        }
        this.note(`ssh ${id}: systemctl restart vdsmd`);
        h.vdsm = 'dead';
        h.vdsmUpAt = this.t + VDSM_RESTART_SECS;
        return { ok: true };
      },
      listVms: async (id) => {
        const h = this.host(id);
        if (this.reach(h) !== 'ok' || h.answersLost) return null;
        return [...h.vms].map(([vid, status]) => ({ id: vid, status }));
      },
      createVm: async (id, vm, epoch) => {
        const h = this.host(id);
        this.stale(r, `VM.create ${vm.id} on ${id}`);
        if (this.reach(h) !== 'ok') return { ok: false, detail: 'host unreachable' };
        if (epoch < h.maxEpoch) return { ok: false, detail: `epoch ${epoch} < ${h.maxEpoch}` };
        h.maxEpoch = epoch;
        if (h.vms.has(vm.id)) return { ok: false, detail: 'already exists' };
        if (this.inventory.get(id)?.maintenance)
          this.violations.push(`t=${this.t}: ${vm.id} started on ${id}, a host in maintenance`);
        if (this.stoppedByPerson.has(vm.id))
          this.violations.push(`t=${this.t}: ${vm.id} started again after a person stopped it (no vm-start since)`);
        const prev = vm.from ? this.hosts.get(vm.from) : undefined;
        // The danger is the old copy: still on a powered host (running or paused), and no person took the blame.
        if (prev?.powered && prev.vms.has(vm.id) && !this.intents[prev.id]?.manual)
          this.violations.push(
            `t=${this.t}: ${vm.id} started on ${id} while ${prev.id} still holds it, powered, unconfirmed`,
          );
        h.vms.set(vm.id, 'Up');
        this.creates.push({ t: this.t, vm: vm.id, host: id });
        this.note(`${id}: VM.create ${vm.id} (epoch ${epoch})`);
        this.fire('vm-create');
        return h.answersLost ? { ok: false, detail: 'no answer (timeout)' } : { ok: true };
      },
      destroyVm: async (id, vm, epoch) => {
        const h = this.host(id);
        this.stale(r, `VM.destroy ${vm} on ${id}`);
        if (this.reach(h) !== 'ok' || epoch < h.maxEpoch) return false;
        h.maxEpoch = epoch;
        const had = h.vms.delete(vm);
        if (had) this.note(`${id}: VM.destroy ${vm}`);
        return had && !h.answersLost;
      },
    };
  }

  private fire(on: string): void {
    for (const tr of this.triggers)
      if (tr.on === on && !this.fired.includes(on)) {
        this.fired.push(on);
        this.note(`# when ${on}: ${tr.words.join(' ')}`);
        this.command(tr.words, false);
      }
  }

  // --- commands --------------------------------------------------------------------------------------------

  command(words: string[], echo = true): void {
    const [verb, ...args] = words;
    const h = () => this.host(args[0]!);
    if (echo) this.note(`# ${words.join(' ')}`);
    switch (verb) {
      case 'kill-vdsmd':
        h().vdsm = 'dead';
        return;
      case 'hang': // kernel hang: nothing answers, the BMC still does
        h().vdsm = 'hung';
        for (const [k, st] of h().vms)
          if (st === 'Up') {
            h().vms.set(k, 'Paused');
            h().hungVms.push(k);
          }
        return;
      case 'power-loss':
        return this.powerOff(h(), 'power loss');
      case 'bmc-dead':
        h().bmc = 'dead';
        return;
      case 'bmc-lies':
        h().bmc = 'lies';
        return;
      case 'cut': // coordinator <-> host only, both ways
        h().coordNet = false;
        return;
      case 'lose-answers': // coordinator -> host only: calls land and act, their answers are lost
        h().answersLost = true;
        return;
      case 'isolate': // from the coordinator and the peers; storage still reached
        h().coordNet = false;
        h().peerNet = false;
        return;
      case 'storage-cut': {
        const x = h();
        x.storage = false;
        x.storageLostAt = this.t;
        for (const k of x.vms.keys()) x.vms.set(k, 'Paused');
        return;
      }
      case 'heal': {
        // Networks, storage and the kernel are back; VMs paused meanwhile stay paused (nobody resumes them here).
        const x = h();
        Object.assign(x, { coordNet: true, answersLost: false, peerNet: true, flap: null, fenceErrors: false });
        if (x.vdsm === 'hung') x.vdsm = 'ok';
        for (const k of x.hungVms) if (x.vms.has(k)) x.vms.set(k, 'Up');
        x.hungVms = [];
        if (!x.storage) {
          x.storage = true;
          x.storageLostAt = null;
        }
        return;
      }
      case 'heal-all': // the end of a randomized schedule: every fault undone
        for (const x of this.hosts.values()) {
          this.command(['heal', x.id], false);
          x.bmc = 'ok';
          if (x.vdsm === 'dead' && x.vdsmUpAt === null) x.vdsm = 'ok';
          this.powerOn(x);
        }
        this.etcdUp = true;
        for (const r of this.replicas)
          if (r.crashed) {
            r.crashed = false;
            r.coord = this.coordinator(r);
          }
        return;
      case 'flap':
        h().flap = { period: Number(args[1] ?? 20), from: this.t };
        return;
      case 'power-on':
        return this.powerOn(h());
      case 'proxy-broken':
        h().fenceErrors = true;
        return;
      case 'isolate-coordinator':
        for (const x of this.hosts.values()) x.coordNet = false;
        return;
      case 'heal-coordinator':
        for (const x of this.hosts.values()) x.coordNet = true;
        return;
      case 'etcd-down':
        this.etcdUp = false;
        this.leader = null;
        for (const r of this.replicas) r.belief = null;
        return;
      case 'etcd-up':
        this.etcdUp = true;
        return;
      case 'failover': {
        const r = this.replicas.find((x) => x.name === this.leader?.replica);
        if (!r) return;
        r.crashed = true;
        r.belief = null;
        this.note(`${r.name} crashes (its lease runs out in ${LEADER_TTL} s)`);
        return;
      }
      case 'pause-leader': {
        const r = this.replicas.find((x) => x.name === this.leader?.replica);
        if (!r) return;
        r.pausedUntil = this.t + Number(args[0] ?? 15);
        this.note(`${r.name} paused for ${args[0] ?? 15} s (still believes it leads)`);
        return;
      }
      case 'confirm':
        this.pendingCommands.push({ kind: 'confirm-rebooted', host: args[0]!, by: args[1] ?? 'admin' });
        return;
      case 'maintenance': {
        const keepVms = args.includes('keep-vms');
        const on = args[1] !== 'off';
        this.pendingCommands.push({
          kind: 'maintenance',
          host: args[0]!,
          on,
          by: 'admin',
          ...(keepVms ? { keepVms } : {}),
        });
        return;
      }
      // Inventory commands: the CLI writes the host's record (or the VM's definition) first, then queues the command.
      case 'host-add': {
        const [id, cluster = 'A'] = args;
        if (!this.hosts.has(id!))
          this.addHost(id!, cluster, { pm: !args.includes('no-pm'), he: args.includes('he'), known: false });
        const x = this.host(id!);
        if (args.includes('dead')) x.powered = false; // a wrong address, or a box not switched on
        this.inventory.set(x.id, { maintenance: false });
        this.pendingCommands.push({
          kind: 'host-add',
          spec: { id: x.id, cluster: x.cluster, agents: x.agents },
          by: 'admin',
        });
        return;
      }
      case 'host-remove':
        this.pendingCommands.push({ kind: 'host-remove', host: args[0]!, by: 'admin' });
        return;
      case 'vm-define': {
        const num = (k: string, d: number) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
        const vm = { id: args[0]!, ha: args.includes('ha'), priority: num('prio', 0), memMiB: num('mem', 1024) };
        this.vmDefs.set(vm.id, {
          ...vm,
          owner: null,
          state: 'stopped',
          everUp: false,
          generation: 1,
          ...NOT_IN_RECOVERY,
        });
        this.pendingCommands.push({ kind: 'vm-define', vm, by: 'admin' });
        return;
      }
      case 'vm-start':
        this.pendingCommands.push({
          kind: 'vm-start',
          vm: args[0]!,
          ...(args[1] ? { host: args[1] } : {}),
          by: 'admin',
        });
        return;
      case 'vm-stop':
        this.pendingCommands.push({ kind: 'vm-stop', vm: args[0]!, by: 'admin' });
        return;
      case 'vm-remove':
        this.pendingCommands.push({ kind: 'vm-remove', vm: args[0]!, by: 'admin' });
        return;
      default:
        throw new Error(`unknown command ${words.join(' ')}`);
    }
  }

  // --- time ------------------------------------------------------------------------------------------------

  /** Moves the world one second on; true when a VM.shutdown answered. */
  private worldSecond(): boolean {
    const due = this.shutdowns.filter((x) => this.t >= x.at);
    for (const s of due) {
      this.shutdowns.splice(this.shutdowns.indexOf(s), 1);
      const h = this.host(s.host);
      if (h.vms.get(s.vm) === 'Powering down') {
        if (h.vdsm === 'hung') {
          h.vms.set(s.vm, 'Paused'); // frozen mid-shutdown; runs on when the kernel does
          h.hungVms.push(s.vm);
        } else {
          h.vms.delete(s.vm);
          this.note(`${s.host}: ${s.vm} Down (shut down)`);
          if (this.vms[s.vm]?.state === 'stopped') this.stoppedByPerson.add(s.vm);
        }
      }
      // The answer needs the way back: a host cut off meanwhile fails the call, whatever its guest did.
      s.done(this.reach(h) === 'ok' && !h.vms.has(s.vm));
    }
    for (const h of this.hosts.values()) {
      if (h.offAt !== null && this.t >= h.offAt) this.powerOff(h, 'BMC');
      if (h.vdsmUpAt !== null && this.t >= h.vdsmUpAt) {
        h.vdsm = 'ok';
        h.vdsmUpAt = null;
      }
    }
    // etcd: the leader's lease runs out LEADER_TTL after its last renewal (a paused or crashed replica renews nothing).
    if (this.leader) {
      const lr = this.replicas.find((x) => x.name === this.leader?.replica);
      if (lr && !lr.crashed && (lr.pausedUntil === null || this.t >= lr.pausedUntil)) this.leader.renewedAt = this.t;
      if (this.t - this.leader.renewedAt >= LEADER_TTL) {
        this.note(`etcd: ${this.leader.replica}'s lease expired`);
        this.leader = null;
      }
    }
    if (this.etcdUp && this.leader === null) {
      const next = this.replicas.find(
        (x) => !x.crashed && (x.pausedUntil === null || this.t >= x.pausedUntil) && x.belief === null,
      );
      if (next) {
        this.epochs += 1;
        this.leader = { replica: next.name, epoch: this.epochs, since: this.t, renewedAt: this.t };
        next.belief = { epoch: this.epochs, since: this.t };
        this.note(`${next.name} leads (epoch ${this.epochs})`);
      }
    }
    return due.length > 0;
  }

  private checkInvariants(): void {
    const where = new Map<string, string[]>();
    // A VM shutting down still runs: its disks are still written to.
    for (const h of this.hosts.values())
      for (const [vm, s] of h.vms)
        if (h.powered && (s === 'Up' || s === 'Powering down')) where.set(vm, [...(where.get(vm) ?? []), h.id]);
    for (const [vm, hs] of where)
      if (hs.length > 1) this.violations.push(`t=${this.t}: ${vm} runs on ${hs.join(' and ')}`);
  }

  /** The real driver, its step's log lines noted before its actions run (the world's lines follow them). */
  private coordinator(r: Replica): Coordinator {
    return new Coordinator(this.env(r), this.cfg, (rep) => {
      for (const line of rep.log) this.note(`${r.name} ${line}`);
    });
  }

  private report(r: Replica, rep: TickReport | null): void {
    // A stale tick's decisions were computed but not carried out (its first guarded transaction failed).
    if (rep?.stale)
      this.note(`${r.name}: a transaction failed: the actions after it in this tick were not carried out`);
  }

  async run(end: number, commands: { at: number; words: string[] }[]): Promise<void> {
    for (this.t = 0; this.t <= end; this.t++) {
      for (const c of commands.filter((x) => x.at === this.t)) this.command(c.words);
      // Answers of calls that finished this second (VM.shutdown) reach their replica first.
      if (this.worldSecond()) await settle();
      for (const r of this.replicas) {
        if (r.crashed || (r.pausedUntil !== null && this.t < r.pausedUntil)) continue;
        if (r.pausedUntil !== null) {
          r.pausedUntil = null;
          this.note(`${r.name} resumes`);
        }
        this.report(r, await r.coord.tick());
        // Every call but a VM.shutdown settles at once; drain() would wait for those seconds later.
        if (this.shutdowns.length > 0) await settle();
        else await r.coord.drain();
      }
      this.checkInvariants();
    }
  }

  /** Where each VM runs now (Up copies on powered hosts). */
  placement(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const h of [...this.hosts.values()].sort((a, b) => (a.id < b.id ? -1 : 1)))
      for (const [vm, s] of h.vms) if (h.powered && s === 'Up') (out[vm] ??= []).push(h.id);
    return out;
  }
}
