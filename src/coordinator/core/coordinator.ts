/**
 * The coordinator's driver: polls the hosts on the configured intervals, feeds polls, action results and
 * operator commands into the pure `step()`, and runs the actions it returns through the CoordinatorEnv.
 * Rule that makes a stale leader harmless: within one tick, actions run in order, every store write is guarded
 * by the epoch, and a side effect runs only after a guarded transaction of the same tick succeeded (a write of
 * its own, or `confirmEpoch`). A failed guard drops the state; the next leadership reloads it from the store.
 */
import { DEFAULT_COORDINATOR_CONFIG, type CoordinatorConfig } from './config.js';
import { PollFailure, type CoordinatorEnv } from './env.js';
import { restoreState, step, type CoreState, type StepResult } from './step.js';
import type { Action, Poll, Power, Result } from './types.js';

export interface TickReport extends StepResult {
  /** A guarded write failed this tick: the rest of the actions were not run. */
  stale: boolean;
}

export class Coordinator {
  state: CoreState | null = null;
  private polls: Poll[] = [];
  private inbox: Result[] = [];
  private readonly inflight = new Set<Promise<void>>();
  /** The side effects among `inflight`, named for a person. */
  private readonly effects = new Map<Promise<void>, string>();
  private nextPing: Record<string, number> = {};
  private nextStats: Record<string, number> = {};
  private generation = 0;

  constructor(
    private readonly env: CoordinatorEnv,
    readonly cfg: CoordinatorConfig = DEFAULT_COORDINATOR_CONFIG,
    /** Hears each step's result before its actions run (so a log reads in causal order). */
    private readonly onStep?: (r: StepResult) => void,
  ) {}

  /** The host's next stats poll goes out at the next tick (a VM_status event said something changed there). */
  pollSoon(host: string): void {
    this.nextStats[host] = 0;
  }

  /** Waits until every call started so far has settled (the simulator's calls settle at once). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  /** The side effects in flight now, named (when a term ends, its signal aborts these). */
  effectsInFlight(): string[] {
    return [...this.effects.values()];
  }

  private track(p: Promise<void>, effect?: string): void {
    const wrapped: Promise<void> = p
      .catch((err: unknown) => this.env.log.warn({ err: String(err) }, 'coordinator call failed'))
      .finally(() => {
        this.inflight.delete(wrapped);
        this.effects.delete(wrapped);
      });
    this.inflight.add(wrapped);
    if (effect !== undefined) this.effects.set(wrapped, effect);
  }

  /** Results of calls made under an earlier leadership are dropped. */
  private deliver(gen: number, r: Result): void {
    if (gen === this.generation) this.inbox.push(r);
  }

  private lose(): void {
    this.state = null;
    this.generation += 1;
    this.polls = [];
    this.inbox = [];
    this.nextPing = {};
    this.nextStats = {};
  }

  async tick(): Promise<TickReport | null> {
    const now = this.env.now();
    const lead = await this.env.leadership();
    if (lead === null) {
      if (this.state !== null) {
        const r = step(this.state, { now, leader: null, polls: [], results: [], commands: [] }, this.cfg);
        this.onStep?.(r);
        this.lose();
        return { ...r, stale: false };
      }
      return null;
    }
    if (this.state === null || this.state.epoch !== lead.epoch) {
      this.lose();
      this.state = restoreState(await this.env.load(), now);
    }
    this.startPolls(now);
    const commands = await this.env.commands();
    const obs = { now, leader: lead, polls: this.polls.splice(0), results: this.inbox.splice(0), commands };
    const r = step(this.state, obs, this.cfg);
    this.state = r.state;
    this.onStep?.(r);
    const epoch = lead.epoch;
    for (const ev of r.audit) await this.env.audit(epoch, ev);
    let guarded = false;
    for (const a of r.actions) {
      const ok = await this.run(a, epoch, guarded);
      if (!ok) {
        this.env.log.warn({ epoch, action: a.kind }, 'a guarded write failed: not leader any more, nothing more done');
        this.lose();
        return { ...r, stale: true };
      }
      guarded = true;
    }
    return { ...r, stale: false };
  }

  private startPolls(now: number): void {
    const gen = this.generation;
    for (const id of Object.keys(this.state?.hosts ?? {}).sort()) {
      if ((this.nextStats[id] ?? 0) <= now) {
        this.nextStats[id] = now + this.cfg.statsInterval;
        this.nextPing[id] = now + this.cfg.pingInterval;
        this.track(
          this.env.stats(id).then(
            (s) =>
              this.pushPoll(gen, {
                host: id,
                kind: 'stats',
                ok: true,
                vms: s.vms,
                freeMemMiB: s.freeMemMiB,
                ...(s.ha ? { ha: s.ha } : {}),
              }),
            (err: unknown) => this.pushPoll(gen, { host: id, kind: 'stats', ok: false, error: reason(err) }),
          ),
        );
      } else if ((this.nextPing[id] ?? 0) <= now) {
        this.nextPing[id] = now + this.cfg.pingInterval;
        this.track(
          this.env.ping(id).then(
            () => this.pushPoll(gen, { host: id, kind: 'ping', ok: true }),
            (err: unknown) => this.pushPoll(gen, { host: id, kind: 'ping', ok: false, error: reason(err) }),
          ),
        );
      }
    }
  }

  private pushPoll(gen: number, p: Poll): void {
    if (gen === this.generation) this.polls.push(p);
  }

  /** Runs one action; false when a guarded write failed (this replica is stale). */
  private async run(a: Action, epoch: number, guarded: boolean): Promise<boolean> {
    const env = this.env;
    const gen = this.generation;
    switch (a.kind) {
      case 'write-fence':
        return env.writeFence(epoch, a.host, a.intent);
      case 'write-vm':
        return env.writeVm(epoch, a.vm);
      case 'write-host':
        return env.writeHost(epoch, a.host, a.state);
      case 'remove-vm':
        return env.removeVm(epoch, a.vm);
      case 'stop-vm':
      case 'set-ha-maintenance':
      case 'probe':
      case 'power':
      case 'ssh-restart':
      case 'scan':
      case 'start-vm':
      case 'destroy-vm':
        break;
    }
    if (!guarded && !(await env.confirmEpoch(epoch))) return false;
    switch (a.kind) {
      case 'probe':
        this.track(
          env.probe(a.via, a.host).then((reached) => this.deliver(gen, { ...a, reached })),
          effectOf(a),
        );
        return true;
      case 'power':
        this.track(
          Promise.all(
            a.agents.map((agent) => env.fence(a.proxy, a.host, agent, a.op, epoch).catch((): Power => 'error')),
          ).then((power) =>
            this.deliver(gen, { kind: 'power', id: a.id, host: a.host, proxy: a.proxy, op: a.op, power }),
          ),
          effectOf(a),
        );
        return true;
      case 'ssh-restart':
        this.track(
          env
            .sshRestart(a.host)
            .catch((err: unknown) => ({ ok: false, detail: String(err) }))
            .then((r) => this.deliver(gen, { kind: 'ssh-restart', id: a.id, host: a.host, ...r })),
          effectOf(a),
        );
        return true;
      case 'scan':
        this.track(
          Promise.all(a.hosts.map((h) => env.listVms(h).catch(() => null))).then((lists) =>
            this.deliver(gen, {
              kind: 'scan',
              id: a.id,
              lists: Object.fromEntries(a.hosts.map((h, i) => [h, lists[i] ?? null])),
            }),
          ),
          effectOf(a),
        );
        return true;
      case 'start-vm': {
        const vm = this.state?.vms[a.vm];
        if (!vm) return true;
        this.track(
          env
            .createVm(a.host, vm, epoch)
            .catch((err: unknown) => ({ ok: false, detail: String(err) }))
            .then((r) => this.deliver(gen, { kind: 'start-vm', id: a.id, vm: a.vm, host: a.host, ...r })),
          effectOf(a),
        );
        return true;
      }
      case 'destroy-vm':
        this.track(
          env
            .destroyVm(a.host, a.vm, epoch)
            .catch(() => false)
            .then((ok) => this.deliver(gen, { kind: 'destroy-vm', id: a.id, vm: a.vm, host: a.host, why: a.why, ok })),
          effectOf(a),
        );
        return true;
      case 'stop-vm':
        this.track(
          env
            .stopVm(a.host, a.vm, epoch)
            .catch(() => false)
            .then((ok) => this.deliver(gen, { kind: 'stop-vm', id: a.id, vm: a.vm, host: a.host, ok })),
          effectOf(a),
        );
        return true;
      case 'set-ha-maintenance':
        this.track(
          env
            .setHaMaintenance(a.host, a.on)
            .catch(() => false)
            .then((ok) => this.deliver(gen, { kind: 'set-ha-maintenance', id: a.id, host: a.host, on: a.on, ok })),
          effectOf(a),
        );
        return true;
    }
  }
}

/** A side effect as a person reads it in the audit trail. */
function effectOf(a: Action): string {
  switch (a.kind) {
    case 'probe':
      return `probe of ${a.host} from ${a.via}`;
    case 'power':
      return `power ${a.op} of ${a.host} through ${a.proxy}`;
    case 'ssh-restart':
      return `SSH restart of ${a.host}`;
    case 'scan':
      return `VM lists of ${a.hosts.join(', ')}`;
    case 'start-vm':
      return `start of ${a.vm} on ${a.host}`;
    case 'destroy-vm':
      return a.why === 'stale' ? `destroy of ${a.vm} on ${a.host}` : `clearing ${a.vm}'s Down entry on ${a.host}`;
    case 'stop-vm':
      return `shutdown of ${a.vm} on ${a.host}`;
    case 'set-ha-maintenance':
      return `HA local maintenance ${a.on ? 'on' : 'off'} on ${a.host}`;
    default:
      return a.kind;
  }
}

function reason(err: unknown): 'refused' | 'timeout' {
  return err instanceof PollFailure ? err.reason : 'timeout';
}
