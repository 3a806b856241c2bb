import type { AgentEnv } from './agent-env.js';
import { startEngineVm } from './agent-env.js';
import type { HeConf } from './conf.js';
import { INITIAL_STATE, step, type AgentState } from './fsm.js';
import type { MonitorReadings } from './monitors/types.js';
import type { ActionKind, ActionResult, HostBlock, Observations } from './types.js';

/** What the agent reads from hosted-engine.conf; the rest (vmId, sockets, XML) is the Env's business. */
export type AgentConf = Pick<HeConf, 'hostId' | 'ha' | 'engineMemMiB' | 'shutdownDelay'>;

/** How often the agent looks at the broker's pulse between ticks. */
const PULSE_SECONDS = 1;

/**
 * The HA agent: every tick it reads the broker (monitors, whiteboard, flags), runs the pure state machine,
 * carries out its action through vdsmd, keeps the engine VM lease, and publishes its block. All of it
 * through an AgentEnv: the broker and vdsmd in production, a simulated world in the scenario tests.
 */
export class HaAgent {
  private state: AgentState = INITIAL_STATE;
  private result: ActionResult | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  /** The start just tried found the engine VM lease held by a host that stopped renewing it. */
  private holderDying = false;
  /** The tick that read that outcome went back to EngineDown: look again in a second, not a whole loop_delay. */
  private retrySoon = false;

  constructor(
    private readonly conf: AgentConf,
    private readonly env: AgentEnv,
  ) {}

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const { log } = this.env;
    while (!this.stopped) {
      let wait = true;
      try {
        wait = await this.tick();
      } catch (err) {
        // The broker or the storage is away: nothing can be decided; upstream restarts the agent.
        log.error({ err: (err as Error).message }, 'agent tick failed; starting over');
        this.state = INITIAL_STATE;
        this.retrySoon = false;
      }
      if (wait) await this.between(this.retrySoon ? Math.min(1, this.conf.ha.loopDelay) : this.conf.ha.loopDelay);
    }
  }

  /**
   * The wait between ticks, cut short when the engine VM's state changes here or on any host's block (a
   * pulse from the broker, read every second): a dead engine VM is acted on within a second or two of the
   * monitors seeing it, not a whole tick later on each host in turn (upstream waits the full 10 s).
   */
  private async between(seconds: number): Promise<void> {
    const { env } = this;
    const before = await env.readPulse().catch(() => undefined);
    const deadline = env.now() + seconds;
    for (let i = 0; i < 3600 && !this.stopped; i++) {
      const left = deadline - env.now();
      if (left <= 0) return;
      await env.sleep(Math.min(PULSE_SECONDS, left), this.stopping.signal);
      if (before === undefined || this.stopped || env.now() >= deadline) continue;
      const now = await env.readPulse().catch(() => before);
      if (now !== before) return;
    }
  }

  /** One tick; returns whether to wait before the next. */
  async tick(): Promise<boolean> {
    const { env, conf } = this;
    const status = await env.readStatus();
    const readings = status.readings;
    if (readings.storageOk === false) throw new Error('shared storage unreachable');
    const now = env.now();
    const obs: Observations = {
      now,
      globalMaintenance: status.globalMaintenance,
      localMaintenance: status.localMaintenance,
      network: readings.network,
      bridgeUp: readings.bridgeUp,
      memFreeMiB: readings.memFreeMiB,
      cpuLoad: readings.cpuLoad,
      engine: readings.engine,
      remote: status.hosts.filter((b) => b.hostId !== conf.hostId),
      configUpToDate: true,
      engineMemMiB: conf.engineMemMiB,
      result: this.result,
    };
    await this.keepLease(readings);
    const r = step(this.state, obs, conf.ha);
    for (const line of r.log) env.log.info({ score: r.score, state: r.state.name }, line);
    this.state = r.state;
    // Judged on the tick that reads the outcome (EngineStart -> EngineDown), which is the one that waits.
    this.retrySoon = this.result?.leaseHeldBy !== undefined && this.holderDying;
    this.result = undefined;
    this.holderDying = false;
    for (const action of r.actions) this.result = await this.act(action);
    const block: HostBlock = {
      hostId: conf.hostId,
      hostTs: Math.floor(now),
      score: r.score,
      engineStatus: readings.engine,
      hostname: env.hostname,
      maintenance: status.localMaintenance,
      stopped: false,
      confOnSharedStorage: true,
      localConfTimestamp: Math.floor(now),
      state: r.state.name,
    };
    await env.writeBlock(block);
    await env.reportAlive([conf.hostId, ...r.alive]);
    return r.wait;
  }

  /** The engine VM runs here only under our lease: confirm we hold it, and if it was lost, stop the VM at once. */
  private async keepLease(readings: MonitorReadings): Promise<void> {
    const { env } = this;
    const vm = readings.engine.vm;
    // Confirm the hold first (the file lock renews it then): the holder is looked up only when that fails or the
    // VM is not up here (with sanlock, each lookup reads the lease on shared storage).
    if (vm === 'up' && (await env.confirmLeaseHold())) return;
    // vdsmd away: the VM may well run on; releasing now would hand a running VM's lease to the others.
    if (vm === 'unknown') return;
    const holder = await env.leaseHolder();
    if (vm === 'up') {
      // Lapsed while nobody took it (this agent restarted, say): take it back.
      if (holder === null && (await env.prepareLeaseForStart())) return;
      const why =
        this.state.name === 'EngineStarting' ? 'another host started the engine VM first' : 'engine VM lease lost';
      env.log.error({ holder: holder?.hostId ?? null }, `${why}: powering the engine VM off here`);
      await env.destroyVm().catch(() => false);
    } else if (
      holder?.hostId === this.conf.hostId &&
      this.state.name !== 'EngineStart' &&
      this.state.name !== 'EngineStarting'
    ) {
      await env.releaseLeaseAfterStop();
    }
  }

  private async act(kind: ActionKind): Promise<ActionResult> {
    const { env } = this;
    try {
      switch (kind) {
        case 'start-vm': {
          const r = await startEngineVm(env, {
            cleaning: (status) => env.log.info({ status }, 'removing the engine VM left in vdsmd before the start'),
          });
          if (r.outcome === 'exists') return { kind, ok: false, detail: `engine VM already here (${r.status})` };
          if (r.outcome === 'lease-held') {
            const { holder } = r;
            env.log.warn(
              { holder: holder?.hostId ?? null, state: holder?.state },
              'engine VM lease held by another host; not starting',
            );
            // A holder that stopped renewing (sanlock FAIL) is about to be declared dead: look again in a second.
            this.holderDying = holder?.state === 'FAIL';
            return { kind, ok: true, detail: 'lease held elsewhere', leaseHeldBy: holder?.hostId ?? 0 };
          }
          env.log.info({}, 'engine VM start requested');
          return { kind, ok: true };
        }
        case 'stop-vm':
          await env.shutdownVm(this.conf.shutdownDelay, 'VM is shutting down!');
          return { kind, ok: true };
        case 'poweroff-vm':
          await env.destroyVm(); // already gone is fine
          await env.releaseLeaseAfterStop();
          return { kind, ok: true };
      }
    } catch (err) {
      return { kind, ok: false, detail: (err as Error).message };
    }
  }

  /** Stops ticking and publishes a clean stop (stopped=1, AgentStopped), as upstream does on exit. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    const status = await this.env.readStatus().catch(() => undefined);
    const own = status?.hosts.find((b) => b.hostId === this.conf.hostId);
    if (own)
      await this.env
        .writeBlock({ ...own, stopped: true, score: 0, state: 'AgentStopped', hostTs: Math.floor(this.env.now()) })
        .catch(() => {});
  }
}
