import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type net from 'node:net';
import { JSONRPCErrorException, JSONRPCServer } from 'json-rpc-2.0';
import type { Logger } from 'pino';
import type { HeConf } from '../conf.js';
import { FileLease } from '../lease.js';
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
}

export interface LocalMaintenanceFlags {
  /** Set by vdsmd (the engine's host maintenance flow). */
  local: boolean;
  /** Set by the hosted-engine CLI. */
  manual: boolean;
}

const ALIVE_VALID_MS = 60_000;

/**
 * The HA broker: owns the monitors, the whiteboard, the engine VM lease and the local maintenance flags,
 * and answers the agent, vdsmd and the CLI on a local socket.
 */
export async function startBroker(conf: HeConf, deps: { vdsm: VdsmCall; log: Logger }): Promise<{ close(): Promise<void> }> {
  const { log } = deps;
  const whiteboard = new FileWhiteboard(conf.metadata);
  await whiteboard.ensureSize();
  const lease = new FileLease(conf.lockspace, conf.leaseTimeout * 1000);
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
    };
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
  // --clean-metadata: only a block whose agent stopped cleanly, unless forced; never a live lease holder's.
  server.addMethod('clearHost', async ({ hostId, force }: { hostId: number; force: boolean }) => {
    const s = await whiteboard.readAll();
    const block = s.hosts.get(hostId);
    const holder = await lease.holder();
    if (!force && holder?.hostId === hostId) fail(`host ${hostId} holds the engine VM lease; it is alive`);
    if (!force && block && !block.stopped) fail('Cannot clean unclean metadata block. Consider --force-cleanup.');
    await whiteboard.clearHost(hostId);
    log.warn({ hostId, force }, 'metadata block cleaned');
    return true;
  });
  server.addMethod('resetLease', async ({ force }: { force: boolean }) => {
    const s = await whiteboard.readAll();
    if (!force && !s.global.maintenance) fail('Lockspace reinitialization is possible in global maintenance mode only');
    if (!force && [...s.hosts.values()].some((b) => !b.stopped)) fail('Lockspace reinitialization cannot be performed with an active agent');
    await rm(conf.lockspace, { force: true });
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
    },
  };
}
