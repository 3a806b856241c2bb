import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { callBroker } from './broker/rpc.js';
import type { BrokerStatus } from './broker/server.js';
import type { HeConf } from './conf.js';
import { engineVmXml } from './engine-xml.js';
import type { LeaseHolder } from './lease.js';
import { INITIAL_STATE, step, type AgentState } from './fsm.js';
import type { MonitorReadings, VdsmCall } from './monitors/types.js';
import type { ActionKind, ActionResult, HostBlock, Observations } from './types.js';

export interface AgentDeps {
  vdsm: VdsmCall;
  log: Logger;
  /** Monotonic seconds; injected so that tests can read the same clock. */
  now?: () => number;
}

/** How often the agent looks at the broker's pulse between ticks. */
const PULSE_SECONDS = 1;

const monotonicSeconds = () => Number(process.hrtime.bigint() / 1_000_000n) / 1000;

/**
 * The HA agent: every tick it reads the broker (monitors, whiteboard, flags), runs the pure state machine,
 * carries out its action through vdsmd, keeps the engine VM lease, and publishes its block.
 */
export class HaAgent {
  private state: AgentState = INITIAL_STATE;
  private result: ActionResult | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** The last start found the engine VM lease held by a host that stopped renewing it. */
  private holderDying = false;
  private readonly now: () => number;

  constructor(
    private readonly conf: HeConf,
    private readonly deps: AgentDeps,
  ) {
    this.now = deps.now ?? monotonicSeconds;
  }

  private broker<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    return callBroker<T>(this.conf.brokerSocket, method, params, 10_000);
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const { log } = this.deps;
    while (!this.stopped) {
      let wait = true;
      try {
        wait = await this.tick();
      } catch (err) {
        // The broker or the storage is away: nothing can be decided; upstream restarts the agent.
        log.error({ err: (err as Error).message }, 'agent tick failed; starting over');
        this.state = INITIAL_STATE;
      }
      if (wait) await this.between(this.holderDying ? Math.min(1, this.conf.ha.loopDelay) : this.conf.ha.loopDelay);
    }
  }

  /**
   * The wait between ticks, cut short when the engine VM's state changes here or on any host's block (a
   * pulse from the broker, read every second): a dead engine VM is acted on within a second or two of the
   * monitors seeing it, not a whole tick later on each host in turn (upstream waits the full 10 s).
   */
  private async between(seconds: number): Promise<void> {
    const before = await this.broker<string>('pulse').catch(() => undefined);
    const deadline = this.now() + seconds;
    for (let i = 0; i < 3600 && !this.stopped; i++) {
      const left = deadline - this.now();
      if (left <= 0) return;
      await this.sleep(Math.min(PULSE_SECONDS, left) * 1000);
      if (before === undefined || this.stopped || this.now() >= deadline) continue;
      const now = await this.broker<string>('pulse').catch(() => before);
      if (now !== before) return;
    }
  }

  /** One tick; returns whether to wait before the next. */
  async tick(): Promise<boolean> {
    const { log } = this.deps;
    const status = await this.broker<BrokerStatus>('status');
    const readings = status.readings;
    if (readings.storageOk === false) throw new Error('shared storage unreachable');
    const now = this.now();
    const obs: Observations = {
      now,
      globalMaintenance: status.globalMaintenance,
      localMaintenance: status.localMaintenance,
      network: readings.network,
      bridgeUp: readings.bridgeUp,
      memFreeMiB: readings.memFreeMiB,
      cpuLoad: readings.cpuLoad,
      engine: readings.engine,
      remote: status.hosts.filter((b) => b.hostId !== this.conf.hostId),
      configUpToDate: true,
      engineMemMiB: this.conf.engineMemMiB,
      result: this.result,
    };
    await this.keepLease(readings);
    const r = step(this.state, obs, this.conf.ha);
    for (const line of r.log) log.info({ score: r.score, state: r.state.name }, line);
    this.state = r.state;
    this.result = undefined;
    this.holderDying = false;
    for (const action of r.actions) this.result = await this.act(action);
    const block: HostBlock = {
      hostId: this.conf.hostId,
      hostTs: Math.floor(now),
      score: r.score,
      engineStatus: readings.engine,
      hostname: hostname(),
      maintenance: status.localMaintenance,
      stopped: false,
      confOnSharedStorage: true,
      localConfTimestamp: Math.floor(now),
      state: r.state.name,
    };
    await this.broker('putHost', { block });
    await this.broker('pushAlive', { ids: [this.conf.hostId, ...r.alive] });
    return r.wait;
  }

  /** The engine VM runs here only under our lease: renew it, and if it was lost, stop the VM at once. */
  private async keepLease(readings: MonitorReadings): Promise<void> {
    // Renew first: the holder is looked up only when renewing fails or the VM is not up here (with sanlock,
    // each lookup reads the lease on shared storage).
    if (readings.engine.vm === 'up' && (await this.broker<boolean>('leaseRenew'))) return;
    const holder = await this.broker<LeaseHolder | null>('leaseHolder');
    if (readings.engine.vm === 'up') {
      // Lapsed while nobody took it (this agent restarted, say): take it back.
      if (holder === null && (await this.broker<boolean>('leaseAcquire'))) return;
      const why = this.state.name === 'EngineStarting' ? 'another host started the engine VM first' : 'engine VM lease lost';
      this.deps.log.error({ holder: holder?.hostId ?? null }, `${why}: powering the engine VM off here`);
      await this.deps.vdsm('VM.destroy', { vmID: this.conf.vmId }).catch(() => {});
    } else if (holder?.hostId === this.conf.hostId && this.state.name !== 'EngineStart' && this.state.name !== 'EngineStarting') {
      await this.broker('leaseRelease');
    }
  }

  private async act(kind: ActionKind): Promise<ActionResult> {
    const { vdsm, log } = this.deps;
    const vmID = this.conf.vmId;
    try {
      switch (kind) {
        case 'start-vm': {
          await this.cleanStaleVm();
          if (!(await this.broker<boolean>('leaseAcquire'))) {
            const holder = await this.broker<LeaseHolder | null>('leaseHolder');
            log.warn({ holder: holder?.hostId ?? null, state: holder?.state }, 'engine VM lease held by another host; not starting');
            // A holder that stopped renewing (sanlock FAIL) is about to be declared dead: look again in a second.
            this.holderDying = holder?.state === 'FAIL';
            return { kind, ok: true, detail: 'lease held elsewhere', leaseHeldBy: holder?.hostId ?? 0 };
          }
          const xml = await engineVmXml(this.conf);
          await vdsm('VM.create', { vmID, vmParams: { vmId: vmID, xml } });
          log.info('engine VM start requested');
          return { kind, ok: true };
        }
        case 'stop-vm':
          await vdsm('VM.shutdown', { vmID, delay: String(this.conf.shutdownDelay), message: 'VM is shutting down!', force: false });
          return { kind, ok: true };
        case 'poweroff-vm':
          await vdsm('VM.destroy', { vmID }).catch((err: { code?: number }) => {
            if (err.code !== 1) throw err; // already gone is fine
          });
          await this.broker('leaseRelease');
          return { kind, ok: true };
      }
    } catch (err) {
      return { kind, ok: false, detail: (err as Error).message };
    }
  }

  /** A Down engine VM left in vdsmd (a graceful stop, a lost lease race) would make VM.create answer "already exists". */
  private async cleanStaleVm(): Promise<void> {
    const vmID = this.conf.vmId;
    const status = await this.deps.vdsm('VM.getStats', { vmID }).then(
      (r) => (r as { status?: string }[])[0]?.status,
      () => undefined,
    );
    if (status === 'Down') await this.deps.vdsm('VM.destroy', { vmID });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => (clearTimeout(timer), resolve());
    });
  }

  /** Stops ticking and publishes a clean stop (stopped=1, AgentStopped), as upstream does on exit. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    const status = await this.broker<BrokerStatus>('status').catch(() => undefined);
    const own = status?.hosts.find((b) => b.hostId === this.conf.hostId);
    if (own) await this.broker('putHost', { block: { ...own, stopped: true, score: 0, state: 'AgentStopped', hostTs: Math.floor(this.now()) } }).catch(() => {});
  }
}
