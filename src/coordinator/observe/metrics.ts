/**
 * The coordinator's Prometheus metrics, on a registry of its own (no prom-client global: two coordinators in one
 * process, as in tests, must not share counters). Fed by the driver's step results (`recordStep`, the
 * Coordinator's `onStep`), by the Env's calls (`instrumentEnv`: leadership, power actions, SSH) and read by
 * GET /metrics.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CoreState, StepResult } from '../core/step.js';
import { HOST_STATUSES, type HostStatus, type Power } from '../core/types.js';

export const FENCE_KINDS = ['status', 'off', 'on', 'ssh'] as const;
export type FenceKind = (typeof FENCE_KINDS)[number];
/** A power action's outcome is what the agent answered (or `error`); an SSH restart's is ok, failed or error. */
export type FenceOutcome = Power | 'ok' | 'failed';
export const VM_RESTART_OUTCOMES = ['up', 'adopted', 'failed'] as const;
export type VmRestartOutcome = (typeof VM_RESTART_OUTCOMES)[number];

/** Seconds: detection takes 20 to 45 s, OFF confirmed about a minute more, VMs Up minutes at worst. */
const BUCKETS = [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800];

/** Where detection starts, per transition: these states are entered from a host that was Up. */
const DETECTED_FROM: readonly HostStatus[] = ['Up', 'Suspect'];

export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly hosts = new Gauge({
    name: 'vdsm_ts_coordinator_hosts',
    help: 'Hosts by state, as the leader sees them (0 on a follower).',
    labelNames: ['state'],
    registers: [this.registry],
  });
  private readonly fenceActions = new Counter({
    name: 'vdsm_ts_coordinator_fence_actions_total',
    help: 'Fence actions carried out, by kind (status, off, on: one per agent through a proxy; ssh: soft fence) and outcome (the power state answered or error; ok or failed for ssh).',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  private readonly vmRestarts = new Counter({
    name: 'vdsm_ts_coordinator_vm_restarts_total',
    help: 'VM recoveries, by outcome: up (started elsewhere and seen Up), adopted (found already running), failed (a start that failed or was not seen Up in time; retried).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly leader = new Gauge({
    name: 'vdsm_ts_coordinator_leader',
    help: '1 while this replica leads, else 0.',
    registers: [this.registry],
  });
  private readonly epoch = new Gauge({
    name: 'vdsm_ts_coordinator_leader_epoch',
    help: "The epoch (leader key's create revision) this replica leads under; 0 when it does not lead.",
    registers: [this.registry],
  });
  private readonly toNonResponsive = new Histogram({
    name: 'vdsm_ts_coordinator_nonresponsive_seconds',
    help: "From a host's last good answer to NonResponsive.",
    buckets: BUCKETS,
    registers: [this.registry],
  });
  private readonly toOffConfirmed = new Histogram({
    name: 'vdsm_ts_coordinator_off_confirmed_seconds',
    help: "From a host's last good answer to its power OFF confirmed by its BMC (not counted for confirm-rebooted).",
    buckets: BUCKETS,
    registers: [this.registry],
  });
  private readonly toVmUp = new Histogram({
    name: 'vdsm_ts_coordinator_vm_up_seconds',
    help: 'From the last good answer of the host a VM was recovered from to the VM Up (or adopted) on another host.',
    buckets: BUCKETS,
    registers: [this.registry],
  });
  /** The state of the last step under the current leadership (transitions are seen against it). */
  private prev: CoreState | null = null;
  /** VMs in recovery → the last good answer of the host they come from (the clock of `recordStep`'s `now`). */
  private readonly recovering = new Map<string, number>();

  constructor() {
    for (const state of HOST_STATUSES) this.hosts.set({ state }, 0);
    this.leader.set(0);
    this.epoch.set(0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** This replica's leadership as the Env reported it (null: not leader). */
  recordLeadership(lead: { epoch: number } | null): void {
    this.leader.set(lead ? 1 : 0);
    this.epoch.set(lead ? lead.epoch : 0);
  }

  recordFence(kind: FenceKind, outcome: FenceOutcome): void {
    this.fenceActions.inc({ kind, outcome });
  }

  /**
   * One step of the driver (`new Coordinator(env, cfg, (r) => metrics.recordStep(r, env.now()))`), `now` on the
   * Env's clock. Transitions count only against the previous step under the same epoch, so a new leader's
   * restored state is not taken for events that happened now.
   */
  recordStep(r: StepResult, now: number): void {
    const st = r.state;
    if (st.epoch === null) {
      for (const state of HOST_STATUSES) this.hosts.set({ state }, 0);
      this.prev = null;
      this.recovering.clear();
      return;
    }
    const prev = this.prev?.epoch === st.epoch ? this.prev : null;
    if (prev === null) this.recovering.clear();
    this.countHosts(st);
    for (const h of Object.values(st.hosts)) {
      const was = prev?.hosts[h.spec.id]?.status;
      if (was === undefined || was === h.status) continue;
      if (h.status === 'NonResponsive' && DETECTED_FROM.includes(was)) this.toNonResponsive.observe(h.since - h.lastOk);
      if (h.status === 'PowerOffConfirmed' && h.manual === null) this.toOffConfirmed.observe(h.since - h.lastOk);
    }
    for (const vm of Object.values(st.vms)) {
      const before = prev?.vms[vm.id];
      if (vm.restart && vm.from !== null && !this.recovering.has(vm.id))
        this.recovering.set(vm.id, st.hosts[vm.from]?.lastOk ?? now);
      if (!before?.restart || before.from === null) continue;
      if (vm.state === 'running' && !vm.restart) {
        this.vmRestarts.inc({ outcome: before.state === 'starting' ? 'up' : 'adopted' });
        const lastOk = this.recovering.get(vm.id);
        if (lastOk !== undefined) this.toVmUp.observe(now - lastOk);
      } else if (vm.attempts > before.attempts) this.vmRestarts.inc({ outcome: 'failed' });
    }
    for (const id of this.recovering.keys()) {
      const vm = st.vms[id];
      if (!vm?.restart) this.recovering.delete(id);
    }
    this.prev = st;
  }

  private countHosts(st: CoreState): void {
    const counts = new Map<HostStatus, number>(HOST_STATUSES.map((s) => [s, 0]));
    for (const h of Object.values(st.hosts)) counts.set(h.status, (counts.get(h.status) ?? 0) + 1);
    for (const [state, n] of counts) this.hosts.set({ state }, n);
  }
}
