import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type net from 'node:net';
import { JSONRPCErrorException, JSONRPCServer } from 'json-rpc-2.0';
import type { Logger } from 'pino';
import type { HeConf } from '../conf.js';
import { FileLease, type EngineLease } from '../lease.js';
import { SanlockLease } from '../sanlock.js';
import { startMonitors } from '../monitors/index.js';
import type { MonitorReadings, VdsmCall } from '../monitors/types.js';
import type { HostBlock } from '../types.js';
import { FileWhiteboard } from '../whiteboard.js';
import { serveLines } from './rpc.js';

/** What `status` answers: everything the CLI and vdsmd show, from the local agent's point of view. */
export interface BrokerStatus {
  hostId: number;
  globalMaintenance: boolean;
  hosts: HostBlock[];
  extras: Record<number, string>;
  problems: { slot: number; error: string }[];
  /** Host ids the local agent saw alive (itself included); null when the agent has not said so for 60 s. */
  alive: number[] | null;
  localMaintenance: boolean;
  readings: MonitorReadings;
  /** sanlock: whether this host holds its host id in the lockspace (null: file lock, nothing to join). */
  lockspace: { joined: boolean; error: string | null } | null;
}

export interface LocalMaintenanceFlags {
  /** Set by vdsmd (the engine's host maintenance flow). */
  local: boolean;
  /** Set by the hosted-engine CLI. */
  manual: boolean;
}

const ALIVE_VALID_MS = 60_000;
/** How often the broker checks that this host still holds its host id in the sanlock lockspace. */
const LOCKSPACE_CHECK_MS = 2_000;

/**
 * Keeps this host in the sanlock lockspace: joins at start, and again whenever sanlock dropped us (it does
 * after storage was lost for 8 × io_timeout; it does not rejoin by itself when the storage comes back).
 */
function keepLockspace(lease: SanlockLease, log: Logger): { state(): { joined: boolean; error: string | null }; stop(): Promise<void> } {
  let joined = false;
  let error: string | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const check = async () => {
    try {
      joined = await lease.joined();
      if (!joined) {
        log.info('joining the sanlock lockspace');
        await lease.join();
        joined = await lease.joined();
        if (joined) log.info('joined the sanlock lockspace');
      }
      error = null;
    } catch (err) {
      joined = false;
      if (error !== (err as Error).message) log.error({ err: (err as Error).message }, 'sanlock lockspace');
      error = (err as Error).message;
    }
  };
  const loop = () => {
    running = check().finally(() => {
      if (!stopped) timer = setTimeout(loop, LOCKSPACE_CHECK_MS);
    });
  };
  loop();
  return {
    state: () => ({ joined, error }),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/**
 * The HA broker: owns the monitors, the whiteboard, the engine VM lease and the local maintenance flags,
 * and answers the agent, vdsmd and the CLI on a local socket.
 */
export async function startBroker(conf: HeConf, deps: { vdsm: VdsmCall; log: Logger }): Promise<{ close(): Promise<void> }> {
  const { log } = deps;
  const whiteboard = new FileWhiteboard(conf.metadata);
  await whiteboard.ensureSize();
  const sanlock = conf.lock === 'sanlock' ? new SanlockLease({ name: conf.sanlock.name, path: conf.lockspace, hostId: conf.hostId, ioTimeout: conf.sanlock.ioTimeout }) : undefined;
  const lease: EngineLease = sanlock ?? new FileLease(conf.lockspace, conf.leaseTimeout * 1000);
  const lockspace = sanlock ? keepLockspace(sanlock, log) : undefined;
  const monitors = startMonitors({
    vdsm: deps.vdsm,
    vmId: conf.vmId,
    bridge: conf.bridge,
    networkTest: conf.networkTest,
    gateway: conf.gateway,
    tcpPort: conf.tcpPort,
    healthUrl: conf.healthUrl,
    storagePath: conf.metadata,
    intervalMs: conf.monitorInterval * 1000,
  });
  const flagsFile = join(conf.stateDir, 'ha.json');
  await mkdir(conf.stateDir, { recursive: true });
  let alive: { ids: number[]; at: number } | null = null;

  const readFlags = async (): Promise<LocalMaintenanceFlags> => {
    try {
      const f = JSON.parse(await readFile(flagsFile, 'utf8')) as Partial<LocalMaintenanceFlags>;
      return { local: f.local === true, manual: f.manual === true };
    } catch {
      return { local: false, manual: false };
    }
  };
  const writeFlags = async (flags: LocalMaintenanceFlags) => {
    await writeFile(`${flagsFile}.tmp`, JSON.stringify(flags), { flush: true });
    await rename(`${flagsFile}.tmp`, flagsFile);
  };
  const snapshot = async () => {
    const s = await whiteboard.readAll();
    return {
      globalMaintenance: s.global.maintenance,
      hosts: [...s.hosts.values()],
      extras: Object.fromEntries(s.extras),
      problems: s.problems.map(({ slot, error }) => ({ slot, error })),
    };
  };
  const fail = (message: string): never => {
    throw new JSONRPCErrorException(message, 1);
  };

  const server = new JSONRPCServer();
  server.addMethod('whiteboard', snapshot);
  server.addMethod('putHost', async ({ block }: { block: HostBlock }) => {
    if (block.hostId !== conf.hostId) fail(`this broker writes slot ${conf.hostId} only, not ${block.hostId}`);
    // The block's timestamps are the monotonic clock (seconds since boot); the readable part shows them as dates.
    await whiteboard.writeHost(block, Math.floor(Date.now() / 1000 - Number(process.hrtime.bigint() / 1_000_000n) / 1000));
    return true;
  });
  server.addMethod('pushAlive', ({ ids }: { ids: number[] }) => {
    alive = { ids, at: Date.now() };
    return true;
  });
  server.addMethod('status', async (): Promise<BrokerStatus> => {
    const flags = await readFlags();
    return {
      hostId: conf.hostId,
      ...(await snapshot()),
      alive: alive && Date.now() - alive.at < ALIVE_VALID_MS ? alive.ids : null,
      localMaintenance: flags.local || flags.manual,
      readings: monitors.readings(),
      lockspace: lockspace?.state() ?? null,
    };
  });
  // What should wake the agent before its next tick: the engine VM's state here or on any host's block.
  server.addMethod('pulse', async () => {
    const s = await whiteboard.readAll();
    const hosts = [...s.hosts.values()].map((b) => `${b.hostId}:${b.engineStatus.vm}`).sort();
    return [monitors.readings().engine.vm, s.global.maintenance, ...hosts].join('|');
  });
  server.addMethod('localMaintenance', async () => {
    const flags = await readFlags();
    return flags.local || flags.manual;
  });
  // mode: global | local (vdsmd) | local_manual (CLI), as upstream keeps two local flags.
  server.addMethod('setMaintenance', async ({ mode, enabled }: { mode: string; enabled: boolean }) => {
    if (typeof enabled !== 'boolean') fail('enabled must be true or false');
    if (mode === 'global') await whiteboard.setGlobalMaintenance(enabled);
    else if (mode === 'local' || mode === 'local_manual') {
      const flags = await readFlags();
      await writeFlags(mode === 'local' ? { ...flags, local: enabled } : { ...flags, manual: enabled });
    } else fail(`unknown maintenance mode "${mode}"`);
    log.info({ mode, enabled }, 'maintenance mode set');
    return true;
  });
  server.addMethod('leaseAcquire', () => lease.acquire(conf.hostId));
  server.addMethod('leaseRenew', () => lease.renew(conf.hostId));
  server.addMethod('leaseRelease', async () => {
    await lease.release(conf.hostId);
    return true;
  });
  server.addMethod('leaseHolder', () => lease.holder());
  server.addMethod('leaseXml', () => lease.leaseXml?.() ?? null);
  // --clean-metadata: only a block whose agent stopped cleanly, unless forced; never a live lease holder's.
  server.addMethod('clearHost', async ({ hostId, force }: { hostId: number; force: boolean }) => {
    const s = await whiteboard.readAll();
    const block = s.hosts.get(hostId);
    const holder = await lease.holder();
    if (!force && holder?.hostId === hostId) fail(`host ${hostId} holds the engine VM lease; it is alive`);
    const state = hostId === conf.hostId ? undefined : (await sanlock?.hostStates())?.get(hostId);
    // As upstream (which must take the host's id in the lockspace to clean it): no force cleans a live host.
    if (state === 'LIVE' || state === 'FAIL') fail(`host ${hostId} is ${state} in the sanlock lockspace; it may still be alive`);
    if (!force && block && !block.stopped) fail('Cannot clean unclean metadata block. Consider --force-cleanup.');
    await whiteboard.clearHost(hostId);
    log.warn({ hostId, force }, 'metadata block cleaned');
    return true;
  });
  server.addMethod('resetLease', async ({ force }: { force: boolean }) => {
    const s = await whiteboard.readAll();
    if (!force && !s.global.maintenance) fail('Lockspace reinitialization is possible in global maintenance mode only');
    if (!force && [...s.hosts.values()].some((b) => !b.stopped)) fail('Lockspace reinitialization cannot be performed with an active agent');
    // Wiping the lease under a running engine VM would let a second one start (and sanlock kill the first).
    const holder = await lease.holder().catch(() => null);
    if (!force && holder) fail(`Lockspace reinitialization cannot be performed while host ${holder.hostId} holds the engine VM lease`);
    await lease.reset();
    log.warn({ force }, 'lockspace reinitialized');
    return true;
  });

  await mkdir(dirname(conf.brokerSocket), { recursive: true });
  await rm(conf.brokerSocket, { force: true });
  const listener: net.Server = await serveLines(server, conf.brokerSocket);
  await chmod(conf.brokerSocket, 0o660);
  log.info({ socket: conf.brokerSocket, hostId: conf.hostId }, 'HA broker ready');
  return {
    close: async () => {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await monitors.stop();
      // The host id stays in the lockspace: leaving it would make sanlock kill an engine VM running here.
      await lockspace?.stop();
    },
  };
}
