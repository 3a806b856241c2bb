import type { Logger } from 'pino';
import type { EventBus } from '../common/events.js';
import { VdsmError } from '../common/errors.js';
import { domainFacts, type DomainFacts } from './domxml.js';
import {
  DomainState,
  LibvirtError,
  LibvirtErrorCode,
  LifecycleEventType,
  ShutdownDetail,
  StoppedDetail,
  SuspendedDetail,
  type DomainSummary,
  type Hypervisor,
  type LifecycleEvent,
} from './hypervisor.js';
import { runningStats, statusTime, vmStats, type SampleWindow, type VmStats } from './stats.js';
import { exitInfo, Vm, type ExitInfo } from './vm.js';
import { ExitCode, ExitReason, VmStatus, type VmStatusName } from './vmstatus.js';

export interface VmManagerOptions {
  events: EventBus;
  log: Logger;
  /** Seconds of "Powering up" without a guest agent. */
  guestWaitMs: number;
  sampleIntervalMs: number;
  /** Monotonic milliseconds (process.hrtime's clock, the clock of libvirt events as the addon reports them). */
  now?: () => number;
  /** Called after every VM_status event is published, with the libvirt event time it answers (for benchmarks). */
  onStatusEvent?: (vmId: string, status: string, libvirtAt: number | undefined) => void;
}

export interface ShutdownRequest {
  delaySeconds: number;
  message: string;
  reboot: boolean;
  timeoutSeconds: number;
  force: boolean;
}

/** One VM in Host.getVMList, with vdsm's raw status. */
export type VmListEntry = { vmId: string; status: VmStatusName; statusTime: string };

/** VM.create's answer: the VM registered and not yet started. */
export type VmCreated = { vmId: string; status: typeof VmStatus.WaitForLaunch; statusTime: string; xml: string };

const OVIRT_METADATA = 'http://ovirt.org/vm/1.0';
/**
 * How long VM.destroy waits for libvirt's Stopped event once the domain is destroyed, so that the Down event carries
 * libvirt's reason and time as vdsm's does; only past it (an event lost) does the Down come from the destroy itself.
 */
const STOPPED_EVENT_WAIT_MS = 5000;
const GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0';

const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * vdsm's VM container: the VMs this host runs, kept in step with libvirt through lifecycle events, and
 * the operations the VM verbs perform on them. Down VMs stay until VM.destroy removes them.
 */
export class VmManager {
  private readonly vms = new Map<string, Vm>();
  /** Starts still in progress (VM.create returned, libvirt not yet done). */
  private readonly launches = new Map<string, Promise<void>>();
  private readonly samples = new Map<string, SampleWindow>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Called when a VM goes Down (or the manager closes): the waits of VM.destroy and VM.shutdown. */
  private readonly downWaiters = new Map<string, Set<() => void>>();
  private sampler: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly hv: Hypervisor,
    private readonly options: VmManagerOptions,
  ) {
    this.now = options.now ?? monotonicMs;
    hv.onLifecycle((event) => this.onLifecycle(event));
  }

  get hypervisor(): Hypervisor {
    return this.hv;
  }

  /** Takes over the domains libvirt already runs (vdsm's recovery); returns how many were recovered. */
  async recover(): Promise<number> {
    const domains = await this.hv.listDomains();
    for (const domain of domains) {
      try {
        await this.recoverOne(domain);
      } catch (err) {
        this.options.log.warn({ err, vmId: domain.uuid, name: domain.name }, 'cannot recover domain; leaving it alone');
      }
    }
    await this.sample();
    this.sampler = setInterval(() => void this.sample(), this.options.sampleIntervalMs);
    this.sampler.unref();
    return this.vms.size;
  }

  private async recoverOne(domain: DomainSummary): Promise<void> {
    if (this.vms.has(domain.uuid)) return;
    const xml = await this.hv.domainXml(domain.uuid);
    const ours = xml.includes(OVIRT_METADATA);
    const active = domain.id >= 0;
    // As vdsm: shut-off domains are ours only with oVirt metadata; external ones are not our business.
    if (!active && !ours) return;
    const vm = new Vm(domainFacts(xml), xml, this.now(), this.options.guestWaitMs);
    if (active) {
      vm.recovered(this.now(), domain.state === DomainState.Paused);
      vm.readLiveXml(xml);
    } else {
      vm.down(this.now(), shutOffExit(domain.reason));
    }
    this.vms.set(vm.id, vm);
    this.options.log.info(
      { vmId: vm.id, name: vm.name, status: vm.status(this.now()), external: !ours },
      'recovered VM',
    );
  }

  /**
   * VM.create: registers the VM as WaitForLaunch and starts it in the background, as vdsm does; a start
   * failure arrives as a Down event. Everything that can be checked beforehand is, so nothing is half-made.
   */
  create(xml: string, facts: DomainFacts = domainFacts(xml), options: { paused?: boolean } = {}): VmCreated {
    this.assertOpen();
    if (this.vms.has(facts.uuid)) throw VdsmError.of('exist', { vmId: facts.uuid });
    const vm = new Vm(facts, xml, this.now(), this.options.guestWaitMs);
    vm.launchPaused = options.paused ?? false;
    this.vms.set(vm.id, vm);
    const launching = this.launch(vm, vm.launchPaused);
    this.launches.set(vm.id, launching);
    void launching.finally(() => {
      if (this.launches.get(vm.id) === launching) this.launches.delete(vm.id);
    });
    // Still launching: libvirt answers and reports the start on later ticks.
    return { vmId: vm.id, status: VmStatus.WaitForLaunch, statusTime: statusTime(vm.statusTime), xml };
  }

  private async launch(vm: Vm, paused: boolean): Promise<void> {
    try {
      await this.hv.createTransient(vm.xml, { paused });
    } catch (err) {
      // Another domain with this UUID (or name) exists outside our container: refuse, like vdsm's start failure.
      this.setDown(vm, exitInfo(ExitReason.GenericError, ExitCode.Error, (err as Error).message));
      return;
    }
    if (this.vms.get(vm.id) !== vm || vm.stopping) {
      // VM.destroy came while libvirt was still starting it.
      await this.hv.destroy(vm.id).catch(() => {});
      if (!vm.isDown) this.setDown(vm, exitInfo(ExitReason.DestroyedOnStartup));
      return;
    }
    // libvirt's Started event reports the start; this covers a driver that sends none.
    this.after(1000, () => {
      if (vm.isLaunching && this.vms.get(vm.id) === vm) this.markStarted(vm, undefined);
    });
  }

  private markStarted(vm: Vm, libvirtAt: number | undefined): void {
    // No event when "Powering up" later turns "Up" by the clock: the engine polls that, as with vdsm.
    vm.started(this.now());
    // Started with its CPUs paused: libvirt sends no separate SUSPENDED event for that.
    if (vm.launchPaused) vm.paused(this.now());
    this.publish(vm, { ...runningStats(vm, this.now(), this.samples.get(vm.id)) }, libvirtAt);
    void this.hv.domainXml(vm.id).then(
      (live) => vm.readLiveXml(live),
      () => {},
    );
  }

  private onLifecycle(event: LifecycleEvent): void {
    const vm = this.vms.get(event.uuid);
    if (!vm || this.closed) {
      this.options.log.debug(
        { vmId: event.uuid, event: event.event, detail: event.detail },
        'libvirt event for a domain we do not run',
      );
      return;
    }
    const now = this.now();
    switch (event.event) {
      case LifecycleEventType.Started:
        if (vm.isLaunching) this.markStarted(vm, event.at);
        break;
      case LifecycleEventType.Suspended:
        if (vm.isDown || vm.isLaunching) break;
        vm.paused(now, event.detail === SuspendedDetail.IoError ? 'EIO' : 'NOERR');
        this.publish(vm, {}, event.at);
        break;
      case LifecycleEventType.Resumed:
        if (vm.isDown || vm.isLaunching) break;
        vm.resumed(now);
        this.publish(vm, {}, event.at);
        break;
      case LifecycleEventType.Shutdown:
        // The guest is going down by itself, unless the engine asked first (vdsm keeps the first reason).
        vm.stopping ??=
          event.detail === ShutdownDetail.Host
            ? exitInfo(ExitReason.HostShutdown, ExitCode.Error)
            : exitInfo(ExitReason.UserShutdown);
        break;
      case LifecycleEventType.Stopped:
        if (!vm.isDown) this.setDown(vm, stoppedExit(vm.stopping, event.detail), event.at);
        break;
      default:
        break;
    }
  }

  private setDown(vm: Vm, exit: ExitInfo, libvirtAt?: number): void {
    vm.down(this.now(), exit);
    this.samples.delete(vm.id);
    this.publish(vm, { vmId: vm.id, ...exit }, libvirtAt);
    for (const wake of this.downWaiters.get(vm.id) ?? []) wake();
  }

  /** `|virt|VM_status|<vmId>` with `{<vmId>: {status, …}}`: never a statusTime, as vdsm. */
  private publish(vm: Vm, extra: Record<string, unknown>, libvirtAt: number | undefined): void {
    const status = vm.status(this.now());
    this.options.events.publish('virt', 'VM_status', vm.id, { [vm.id]: { status, ...extra } });
    this.options.onStatusEvent?.(vm.id, status, libvirtAt);
  }

  get(vmId: string): Vm {
    this.assertOpen();
    const vm = this.vms.get(vmId);
    if (!vm) throw VdsmError.of('noVM', { vmId });
    return vm;
  }

  /** VM.destroy: stops the domain if it runs and forgets the VM. The Down event (0/6) follows libvirt's. */
  async destroy(vmId: string, gracefulAttempts = 1): Promise<void> {
    const vm = this.get(vmId);
    if (!vm.isDown) {
      vm.stopping = exitInfo(vm.isLaunching ? ExitReason.DestroyedOnStartup : ExitReason.AdminShutdown);
      // A start still in libvirt's hands ends first (and destroys what it made, seeing `stopping`). One that has
      // ended while libvirt's Started event is still on its way left a running domain: destroyed here, not forgotten.
      await this.launches.get(vm.id);
      if (!vm.isDown) await this.destroyDomain(vm, gracefulAttempts);
    }
    this.vms.delete(vmId);
    this.samples.delete(vmId);
  }

  private async destroyDomain(vm: Vm, gracefulAttempts: number): Promise<void> {
    for (let attempt = 0; attempt <= gracefulAttempts; attempt++) {
      const graceful = attempt < gracefulAttempts;
      try {
        await this.hv.destroy(vm.id, { graceful });
        break;
      } catch (err) {
        if (
          err instanceof LibvirtError &&
          (err.code === LibvirtErrorCode.NoDomain || err.code === LibvirtErrorCode.OperationInvalid)
        )
          break; // already gone
        if (!graceful) {
          vm.stopping = undefined;
          throw VdsmError.of('destroyErr', { vmId: vm.id, reason: (err as Error).message });
        }
      }
    }
    if (await this.waitDown(vm, STOPPED_EVENT_WAIT_MS)) return;
    if (this.closed) return;
    this.options.log.warn({ vmId: vm.id }, "libvirt's Stopped event did not come after destroy; reporting Down anyway");
    this.setDown(vm, vm.stopping ?? exitInfo(ExitReason.AdminShutdown));
  }

  /**
   * VM.shutdown: the guest agent, then ACPI, then (with force) destroy, each given `timeout` seconds.
   * Without a guest agent channel and without ACPI there is nothing to ask: error 4, as vdsm's powerdown.
   */
  async shutdown(vmId: string, request: ShutdownRequest): Promise<void> {
    const vm = this.get(vmId);
    if (vm.isDown) throw VdsmError.of('noVM');
    if (request.reboot) throw VdsmError.of('noimpl', { reason: 'reboot through VM.shutdown is not implemented' });
    const agent = vm.xml.includes(GUEST_AGENT_CHANNEL);
    if (!agent && !vm.acpi && !request.force)
      throw new VdsmError(4, 'VM without ACPI or active oVirt guest agent. Try Forced Shutdown.');
    vm.poweringDown(this.now());
    vm.stopping ??= exitInfo(ExitReason.AdminShutdown);
    const methods: (() => Promise<void>)[] = [];
    if (agent) methods.push(() => this.hv.shutdown(vm.id, 'agent'));
    if (vm.acpi) methods.push(() => this.hv.shutdown(vm.id, 'acpi'));
    if (request.force) methods.push(() => this.destroyDomain(vm, 1));
    void this.powerDown(vm, methods, request.timeoutSeconds * 1000);
  }

  private async powerDown(vm: Vm, methods: (() => Promise<void>)[], timeoutMs: number): Promise<void> {
    for (const method of methods) {
      if (vm.isDown || this.closed) return;
      try {
        await method();
      } catch (err) {
        this.options.log.info({ vmId: vm.id, err: (err as Error).message }, 'shutdown method failed; trying the next');
        continue;
      }
      if (await this.waitDown(vm, timeoutMs)) return;
    }
    if (!vm.isDown) this.options.log.warn({ vmId: vm.id }, 'VM did not shut down; it keeps running');
  }

  /** Resolves true when the VM is Down, false when `timeoutMs` passes or the manager closes first. */
  private waitDown(vm: Vm, timeoutMs: number): Promise<boolean> {
    if (vm.isDown || this.closed) return Promise.resolve(vm.isDown);
    return new Promise((resolve) => {
      const waiters = this.downWaiters.get(vm.id) ?? new Set<() => void>();
      this.downWaiters.set(vm.id, waiters);
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.timers.delete(timer);
        waiters.delete(settle);
        if (waiters.size === 0) this.downWaiters.delete(vm.id);
        resolve(vm.isDown);
      };
      waiters.add(settle);
      const timer = this.after(timeoutMs, settle);
    });
  }

  /** VM.pause. vdsm answers a VM that is not running with a general exception (100). */
  async pause(vmId: string): Promise<void> {
    const vm = this.get(vmId);
    if (!vm.isRunning) throw VdsmError.general(`VM '${vmId}' was not defined yet or was undefined`);
    await this.hv.suspend(vmId).catch((err: Error) => {
      throw VdsmError.general(err.message);
    });
  }

  /** VM.cont. A Down VM gives 16 (unexpected), one not yet started a general exception (100), as vdsm. */
  async cont(vmId: string): Promise<void> {
    const vm = this.get(vmId);
    if (vm.isDown) throw VdsmError.of('unexpected');
    if (vm.isLaunching) throw VdsmError.general(`VM '${vmId}' was not defined yet or was undefined`);
    await this.hv.resume(vmId).catch((err: Error) => {
      throw VdsmError.general(err.message);
    });
  }

  stats(vmId: string): VmStats {
    const vm = this.get(vmId);
    return vmStats(vm, this.now(), this.samples.get(vm.id));
  }

  /** Every VM, Down ones included, in the container's order: recovered first, then by creation. */
  allStats(): VmStats[] {
    this.assertOpen();
    const now = this.now();
    return [...this.vms.values()].map((vm) => vmStats(vm, now, this.samples.get(vm.id)));
  }

  list(): VmListEntry[] {
    this.assertOpen();
    return [...this.vms.values()].map((vm) => ({
      vmId: vm.id,
      status: vm.rawStatus(),
      statusTime: statusTime(vm.statusTime),
    }));
  }

  counts(): { total: number; active: number } {
    const all = [...this.vms.values()];
    return { total: all.length, active: all.filter((vm) => vm.isRunning).length };
  }

  /** One bulk statistics sample of every domain (vdsm's periodic sampling); verbs read the newest two. */
  sample(): Promise<void> {
    this.sampling ??= this.sampleOnce().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private async sampleOnce(): Promise<void> {
    let records;
    try {
      records = await this.hv.allDomainStats();
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'cannot sample VM statistics');
      return;
    }
    const at = this.now();
    for (const record of records) {
      if (!this.vms.get(record.uuid)?.isRunning) continue;
      const window = this.samples.get(record.uuid);
      this.samples.set(record.uuid, { prev: window?.last, last: { at, stats: record.stats } });
    }
  }

  private after(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        fn();
      },
      Math.max(0, ms),
    );
    timer.unref();
    this.timers.add(timer);
    return timer;
  }

  private assertOpen(): void {
    if (this.closed) throw VdsmError.of('recovery');
  }

  /** Stops sampling and timers; the domains keep running (vdsmd restarts must not touch VMs). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sampler);
    for (const waiters of [...this.downWaiters.values()]) for (const wake of [...waiters]) wake();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.sampling;
  }
}

/** Exit of a domain found shut off at recovery, by libvirt's shutoff reason (vdsm's _recover_status). */
function shutOffExit(reason: number): ExitInfo {
  const byReason: Record<number, ExitInfo> = {
    1: exitInfo(ExitReason.UserShutdown),
    2: exitInfo(ExitReason.AdminShutdown),
    4: exitInfo(ExitReason.MigrationSucceeded),
    5: exitInfo(ExitReason.SaveStateSucceeded),
    6: exitInfo(ExitReason.LibvirtStartFailed, ExitCode.Error),
  };
  return byReason[reason] ?? exitInfo(ExitReason.GenericError, ExitCode.Error);
}

/** The exit of a domain libvirt reports stopped: the reason recorded before, else by libvirt's detail. */
function stoppedExit(recorded: ExitInfo | undefined, detail: number): ExitInfo {
  if (recorded) return recorded;
  // qemu announces a guest poweroff with a SHUTDOWN event first; drivers that do not still say why.
  if (detail === StoppedDetail.Shutdown) return exitInfo(ExitReason.UserShutdown);
  if (detail === StoppedDetail.Migrated) return exitInfo(ExitReason.MigrationSucceeded);
  if (detail === StoppedDetail.Saved) return exitInfo(ExitReason.SaveStateSucceeded);
  return exitInfo(ExitReason.LostQemuConnection, ExitCode.Error);
}
