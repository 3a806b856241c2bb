import { hostname } from 'node:os';
import { brokerClient } from './broker/client.js';
import type { BrokerStatus } from './broker/schemas.js';
import type { HeConf } from './conf.js';
import { engineVmXml } from './engine-xml.js';
import type { LeaseHolder } from './lease.js';
import type { VdsmCall } from './monitors/types.js';
import type { HostBlock } from './types.js';

/** The agent's log, in pino's (fields, message) order: pino's Logger fits, and so does the simulator's. */
export interface AgentLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/** The engine VM on this host's vdsmd and the engine VM lease: what starting it needs (the agent and `--vm-start`). */
export interface EngineVmEnv {
  /** vdsmd's status of the engine VM here (Up, Down, Powering up, …); rejects when vdsmd does not list it or is away. */
  vmStatus(): Promise<string>;
  /** VM.create with the engine VM's domain XML (and its lease device); vdsmd's status answer (WaitForLaunch). */
  createVm(paused: boolean): Promise<string>;
  /** VM.destroy; false when vdsmd has no such VM. */
  destroyVm(): Promise<boolean>;
  /** VM.shutdown: the guest gets `delaySecs` to power down. */
  shutdownVm(delaySecs: number, message: string): Promise<void>;
  /**
   * May this host start the engine VM under the lease? The file lock takes the lease here; with sanlock it only
   * looks (free, ours, or its holder dead), since libvirt takes it for qemu and the start itself arbitrates.
   */
  prepareLeaseForStart(): Promise<boolean>;
  /** Who holds the engine VM lease now (null: nobody, or a dead host). */
  leaseHolder(): Promise<LeaseHolder | null>;
}

/**
 * Everything the HA agent does to the world, as Proxmox's ha-manager puts its I/O behind one Env: the
 * production implementation below talks to the broker and vdsmd; test/hosted-engine/simulator.ts simulates it.
 */
export interface AgentEnv extends EngineVmEnv {
  readonly hostname: string;
  readonly log: AgentLog;
  /** Monotonic seconds. */
  now(): number;
  /** Waits `seconds`; returns early once `signal` aborts. */
  sleep(seconds: number, signal: AbortSignal): Promise<void>;
  /** The broker's view: monitors, whiteboard, maintenance flags. */
  readStatus(): Promise<BrokerStatus>;
  /** A short string that changes when the engine VM's state changes here or in any host's block. */
  readPulse(): Promise<string>;
  /** Writes this host's block on the whiteboard. */
  writeBlock(block: HostBlock): Promise<void>;
  /** Tells the broker which hosts this agent judges alive (for clients). */
  reportAlive(ids: number[]): Promise<void>;
  /** Whether this host still holds the engine VM lease (the file lock extends it; sanlock's is only read). */
  confirmLeaseHold(): Promise<boolean>;
  /** The engine VM stopped here: the file lock gives the lease up (sanlock's went with qemu). */
  releaseLeaseAfterStop(): Promise<void>;
}

export type StartOutcome =
  /** VM.create answered with vdsmd's status. */
  | { outcome: 'requested'; status: string }
  /** The engine VM already exists here in a state that is not left over. */
  | { outcome: 'exists'; status: string }
  /** Another live host holds the engine VM lease: not even tried. */
  | { outcome: 'lease-held'; holder: LeaseHolder | null };

/**
 * The one engine VM start sequence: remove a Down (or Paused) engine VM left in vdsmd, which would make
 * VM.create answer "already exists" (`cleaning` hears of it first); look at the lease; then VM.create.
 */
export async function startEngineVm(
  env: EngineVmEnv,
  opts: { paused?: boolean; cleaning?: (status: string) => void } = {},
): Promise<StartOutcome> {
  const existing = await env.vmStatus().catch(() => undefined);
  if (existing === 'Down' || existing === 'Paused') {
    opts.cleaning?.(existing);
    await env.destroyVm();
  } else if (existing !== undefined) {
    return { outcome: 'exists', status: existing };
  }
  if (!(await env.prepareLeaseForStart())) return { outcome: 'lease-held', holder: await env.leaseHolder() };
  return { outcome: 'requested', status: await env.createVm(opts.paused === true) };
}

const BROKER_TIMEOUT_MS = 10_000;

/** The engine VM through vdsmd and the lease through the broker, as this host's agent and CLI reach them. */
export function engineVmEnv(conf: HeConf, vdsm: VdsmCall): EngineVmEnv {
  const vmID = conf.vmId;
  const broker = brokerClient(conf.brokerSocket);
  const bound = { timeoutMs: BROKER_TIMEOUT_MS };
  return {
    vmStatus: async () => {
      const status = ((await vdsm('VM.getStats', { vmID })) as { status?: string }[])[0]?.status;
      if (status === undefined) throw new Error('VM.getStats: no status');
      return status;
    },
    createVm: async (paused) => {
      const xml = await engineVmXml(conf);
      const r = (await vdsm('VM.create', {
        vmID,
        vmParams: { vmId: vmID, xml, ...(paused ? { launchPaused: true } : {}) },
      })) as { status?: string };
      return r.status ?? 'unknown';
    },
    destroyVm: () =>
      vdsm('VM.destroy', { vmID }).then(
        () => true,
        (err: { code?: number }) => {
          if (err.code === 1) return false; // noVM
          throw err;
        },
      ),
    shutdownVm: async (delaySecs, message) => {
      await vdsm('VM.shutdown', { vmID, delay: String(delaySecs), message, force: false });
    },
    prepareLeaseForStart: () => broker.call('leaseAcquire', {}, bound),
    leaseHolder: () => broker.call('leaseHolder', {}, bound),
  };
}

const monotonicSeconds = () => Number(process.hrtime.bigint() / 1_000_000n) / 1000;

/** The production Env: this host's broker (on its socket) and vdsmd. */
export function liveAgentEnv(conf: HeConf, deps: { vdsm: VdsmCall; log: AgentLog }): AgentEnv {
  const broker = brokerClient(conf.brokerSocket);
  const bound = { timeoutMs: BROKER_TIMEOUT_MS };
  return {
    ...engineVmEnv(conf, deps.vdsm),
    hostname: hostname(),
    log: deps.log,
    now: monotonicSeconds,
    sleep: (seconds, signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, seconds * 1000);
        signal.addEventListener('abort', done, { once: true });
      }),
    readStatus: () => broker.call('status', {}, bound),
    readPulse: () => broker.call('pulse', {}, bound),
    writeBlock: async (block) => {
      await broker.call('putHost', { block }, bound);
    },
    reportAlive: async (ids) => {
      await broker.call('pushAlive', { ids }, bound);
    },
    confirmLeaseHold: () => broker.call('leaseRenew', {}, bound),
    releaseLeaseAfterStop: async () => {
      await broker.call('leaseRelease', {}, bound);
    },
  };
}
