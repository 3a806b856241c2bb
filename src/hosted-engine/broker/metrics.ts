/**
 * The HA broker's /metrics and /health (docs/metrics.md): every host's block on the whiteboard, this host's
 * monitors, the engine VM's state here and when it last changed, the agent's state and when it last changed.
 * Its own registry (no prom-client global). Transitions are timed by this broker: they count from its start.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { MonitorReadings } from '../monitors/types.js';
import { STATES } from '../states.js';
import type { EngineHealth, HostBlock } from '../types.js';
import type { WhiteboardSnapshot } from '../whiteboard.js';
import { TIMED_OUT, within } from '../monitors/periodic.js';

export interface BrokerView {
  /** The whiteboard, read at scrape time; it may fail (storage away). */
  whiteboard(): Promise<WhiteboardSnapshot>;
  /** Host ids the local agent judged alive (itself included), null when it has not said so lately. */
  alive(): number[] | null;
  readings(): MonitorReadings;
  /** sanlock: whether this host holds its host id in the lockspace; null with the file lock. */
  lockspace(): { joined: boolean } | null;
}

const ENGINE_VM_STATES: readonly EngineHealth['vm'][] = ['up', 'down', 'down_unexpected', 'down_missing', 'unknown'];
const ENGINE_HEALTHS: readonly EngineHealth['health'][] = ['good', 'bad', 'unknown'];
const MIB = 1024 * 1024;
/** A scrape does not wait longer on the shared storage (Prometheus' default scrape timeout is 10 s). */
const WHITEBOARD_READ_MS = 5_000;

const flag = (b: boolean | null) => (b === null ? NaN : b ? 1 : 0);

export interface BrokerHealth {
  status: 'ok' | 'degraded';
  checks: { storage: 'ok' | 'failed' | 'unknown'; lockspace?: 'ok' | 'not_joined' };
}

export class BrokerMetrics {
  readonly registry = new Registry();
  private engineVm: EngineHealth['vm'];
  private engineSince: number;
  private agentState: string | undefined;
  private agentSince = NaN;
  /** Per host id: the last host timestamp seen in its block and when (our clock) it last changed. */
  private readonly updates = new Map<number, { hostTs: number; at: number }>();
  /** Reads the whiteboard for the scrape (prom-client collects every metric at once, so it comes first). */
  private readonly refresh: () => Promise<void>;
  private readonly nowSeconds: () => number;

  /** `now`: the clock transitions are timed by, in ms (Date.now unless a test stands in for it). */
  constructor(
    private readonly view: BrokerView,
    now: () => number = Date.now,
  ) {
    this.nowSeconds = () => now() / 1000;
    this.engineSince = this.nowSeconds();
    this.engineVm = view.readings().engine.vm;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- collect() gets the gauge as `this`
    const metrics = this;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    let last: WhiteboardSnapshot | undefined;
    const perHost = (name: string, help: string, value: (b: HostBlock) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['host_id'],
        registers,
        collect() {
          this.reset();
          for (const b of last?.hosts.values() ?? []) this.set({ host_id: String(b.hostId) }, value(b));
        },
      });
    const readOk = new Gauge({
      name: 'he_whiteboard_read_ok',
      help: 'Whether this scrape could read the shared whiteboard within 5 s (1), or shows the previous reading (0).',
      registers,
    });
    this.refresh = async () => {
      try {
        const snapshot = await within(view.whiteboard(), WHITEBOARD_READ_MS);
        if (snapshot === TIMED_OUT) throw new Error('timed out');
        last = snapshot;
        this.sawWhiteboard(snapshot);
        readOk.set(1);
      } catch {
        readOk.set(0);
      }
    };
    new Gauge({
      name: 'he_global_maintenance',
      help: 'Global maintenance as set on the whiteboard.',
      registers,
      collect() {
        this.set(last ? flag(last.global.maintenance) : NaN);
      },
    });
    new Gauge({
      name: 'he_whiteboard_problem_slots',
      help: 'Whiteboard slots that could not be decoded.',
      registers,
      collect() {
        this.set(last ? last.problems.length : NaN);
      },
    });
    perHost('he_host_score', "The host's HA score from its block (0..3400).", (b) => b.score);
    new Gauge({
      name: 'he_host_state',
      help: "The host's agent state from its block: 1 for the current one, 0 for the others (other: a name we do not know).",
      labelNames: ['host_id', 'state'],
      registers,
      collect() {
        this.reset();
        for (const b of last?.hosts.values() ?? []) {
          const current = (STATES as readonly string[]).includes(b.state) ? b.state : 'other';
          for (const state of [...STATES, 'other'])
            this.set({ host_id: String(b.hostId), state }, +(state === current));
        }
      },
    });
    perHost('he_host_maintenance', 'Local maintenance of the host, from its block.', (b) => +b.maintenance);
    perHost(
      'he_host_stopped',
      "Whether the host's agent stopped cleanly (its last publish said so).",
      (b) => +b.stopped,
    );
    perHost(
      'he_host_engine_vm_up',
      'Whether the host sees the engine VM up on itself, from its block.',
      (b) => +(b.engineStatus.vm === 'up'),
    );
    perHost(
      'he_host_alive',
      'Whether the local agent judges the host alive (its timestamp moves); absent while the agent is silent.',
      (b) => {
        const alive = view.alive();
        return alive === null ? NaN : +alive.includes(b.hostId);
      },
    );
    perHost(
      'he_host_update_age_seconds',
      "Seconds since this broker saw the host's block timestamp change (counted from the broker's start).",
      (b) => metrics.nowSeconds() - (metrics.updates.get(b.hostId)?.at ?? metrics.nowSeconds()),
    );

    new Gauge({
      name: 'he_monitor_status',
      help: 'Whether each local monitor has a reading (1) or not (0: none yet, or it could not tell).',
      labelNames: ['monitor'],
      registers,
      collect() {
        const r = view.readings();
        const has: Record<string, boolean> = {
          network: r.network !== null,
          bridge: r.bridgeUp !== null,
          'mem-free': r.memFreeMiB !== null,
          'cpu-load': r.cpuLoad !== null,
          'engine-health': r.engine.vm !== 'unknown',
          storage: r.storageOk !== null,
        };
        for (const [monitor, ok] of Object.entries(has)) this.set({ monitor }, +ok);
      },
    });
    const reading = (name: string, help: string, value: (r: MonitorReadings) => number | null) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value(view.readings()) ?? NaN);
        },
      });
    reading(
      'he_monitor_network_ratio',
      'Share of the last round of network probes that succeeded (0..1).',
      (r) => r.network,
    );
    reading('he_monitor_bridge_up', 'Whether the management bridge is up (per vdsmd).', (r) => flag(r.bridgeUp));
    reading('he_monitor_mem_free_bytes', 'Memory free on this host (per vdsmd).', (r) =>
      r.memFreeMiB === null ? null : r.memFreeMiB * MIB,
    );
    reading('he_monitor_cpu_load', "This host's CPU load without the engine VM's share (0..1).", (r) => r.cpuLoad);
    reading('he_monitor_storage_ok', 'Whether the shared storage answers.', (r) => flag(r.storageOk));

    new Gauge({
      name: 'he_engine_vm_state',
      help: 'The engine VM on this host, per the engine-health monitor: 1 for the current state, 0 for the others.',
      labelNames: ['state'],
      registers,
      collect() {
        for (const state of ENGINE_VM_STATES) this.set({ state }, +(state === metrics.engineVm));
      },
    });
    new Gauge({
      name: 'he_engine_vm_health',
      help: "The engine's health page as seen from this host: 1 for the current value, 0 for the others.",
      labelNames: ['health'],
      registers,
      collect() {
        const health = view.readings().engine.health;
        for (const h of ENGINE_HEALTHS) this.set({ health: h }, +(h === health));
      },
    });
    new Gauge({
      name: 'he_engine_vm_last_transition_timestamp_seconds',
      help: "Unix time of the engine VM's last state change on this host (or of the broker's start).",
      registers,
      collect() {
        this.set(metrics.engineSince);
      },
    });
    new Gauge({
      name: 'he_engine_vm_state_seconds',
      help: "Seconds since the engine VM's last state change on this host (or since the broker's start).",
      registers,
      collect() {
        this.set(metrics.nowSeconds() - metrics.engineSince);
      },
    });
    new Gauge({
      name: 'he_agent_state_last_transition_timestamp_seconds',
      help: "Unix time the local agent's published state last changed, as this broker saw it (NaN before its first publish).",
      registers,
      collect() {
        this.set(metrics.agentSince);
      },
    });
    if (view.lockspace() !== null)
      new Gauge({
        name: 'he_lockspace_joined',
        help: 'Whether this host holds its host id in the sanlock lockspace.',
        registers,
        collect() {
          this.set(+(view.lockspace()?.joined ?? false));
        },
      });
  }

  /** The engine-health monitor's new reading (PeriodicMonitor.watch). */
  engineReading(value: EngineHealth, previous: EngineHealth): void {
    if (value.vm === previous.vm) return;
    this.engineVm = value.vm;
    this.engineSince = this.nowSeconds();
  }

  /** The block the local agent just published (putHost). */
  ownBlock(block: HostBlock): void {
    if (block.state === this.agentState) return;
    this.agentState = block.state;
    this.agentSince = this.nowSeconds();
  }

  /** Every whiteboard read: notes which hosts' timestamps moved. */
  sawWhiteboard(snapshot: WhiteboardSnapshot): void {
    for (const b of snapshot.hosts.values()) {
      const seen = this.updates.get(b.hostId);
      if (seen?.hostTs !== b.hostTs) this.updates.set(b.hostId, { hostTs: b.hostTs, at: this.nowSeconds() });
    }
  }

  health(): BrokerHealth {
    const storageOk = this.view.readings().storageOk;
    const storage = storageOk === null ? 'unknown' : storageOk ? 'ok' : 'failed';
    const joined = this.view.lockspace()?.joined;
    const checks: BrokerHealth['checks'] = { storage };
    if (joined !== undefined) checks.lockspace = joined ? 'ok' : 'not_joined';
    const ok = storage !== 'failed' && checks.lockspace !== 'not_joined';
    return { status: ok ? 'ok' : 'degraded', checks };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async text(): Promise<string> {
    await this.refresh();
    return this.registry.metrics();
  }
}
