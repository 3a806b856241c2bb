import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { HeConf } from '../conf.js';
import { FileLease, type EngineLease } from '../lease.js';
import { SanlockLease } from '../sanlock.js';
import type { SanlockRun } from '../../storage/sanlock-run.js';
import { startMonitors } from '../monitors/index.js';
import type { VdsmCall } from '../monitors/types.js';
import { FileWhiteboard } from '../whiteboard.js';
import { brokerRpcServer } from './dispatch.js';
import { BrokerError } from './errors.js';
import { serveBrokerMetrics } from './http.js';
import { BrokerMetrics } from './metrics.js';
import { serveLines } from './rpc.js';

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
function keepLockspace(
  lease: SanlockLease,
  log: Logger,
): { state(): { joined: boolean; error: string | null }; stop(): Promise<void> } {
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

export interface BrokerDeps {
  vdsm: VdsmCall;
  log: Logger;
  /** How sanlock is run: the sanlock CLI unless a test stands in for it. */
  sanlockRun?: SanlockRun;
  /** The clock /metrics times transitions by, in ms: Date.now unless a test stands in for it. */
  metricsClock?: () => number;
}

/**
 * The HA broker: owns the monitors, the whiteboard, the engine VM lease and the local maintenance flags,
 * and answers the agent, vdsmd and the CLI on a local socket.
 */
export async function startBroker(
  conf: HeConf,
  deps: BrokerDeps,
): Promise<{
  close(): Promise<void>;
  /** Where /metrics is served (metrics_listen), if anywhere. */ metrics?: AddressInfo;
}> {
  const { log } = deps;
  const whiteboard = new FileWhiteboard(conf.metadata);
  await whiteboard.ensureSize();
  const sanlock =
    conf.lock === 'sanlock'
      ? new SanlockLease(
          { name: conf.sanlock.name, path: conf.lockspace, hostId: conf.hostId, ioTimeout: conf.sanlock.ioTimeout },
          deps.sanlockRun,
        )
      : undefined;
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
  const metrics = new BrokerMetrics(
    {
      whiteboard: () => whiteboard.readAll(),
      alive: () => (alive && Date.now() - alive.at < ALIVE_VALID_MS ? alive.ids : null),
      readings: () => monitors.readings(),
      lockspace: () => lockspace?.state() ?? null,
    },
    deps.metricsClock,
  );
  monitors.monitors.engine.watch((value, previous) => metrics.engineReading(value, previous));
  const snapshot = async () => {
    const s = await whiteboard.readAll();
    metrics.sawWhiteboard(s);
    return {
      globalMaintenance: s.global.maintenance,
      hosts: [...s.hosts.values()],
      extras: Object.fromEntries(s.extras),
      problems: s.problems.map(({ slot, error }) => ({ slot, error })),
    };
  };
  const server = brokerRpcServer(
    {
      whiteboard: snapshot,
      putHost: async ({ block }) => {
        if (block.hostId !== conf.hostId)
          throw BrokerError.of('notOwnSlot', `this broker writes slot ${conf.hostId} only, not ${block.hostId}`);
        // The block's timestamps are the monotonic clock (seconds since boot); the readable part shows them as dates.
        await whiteboard.writeHost(
          block,
          Math.floor(Date.now() / 1000 - Number(process.hrtime.bigint() / 1_000_000n) / 1000),
        );
        metrics.ownBlock(block);
        return true;
      },
      pushAlive: async ({ ids }) => {
        alive = { ids, at: Date.now() };
        return true;
      },
      status: async () => {
        const flags = await readFlags();
        return {
          hostId: conf.hostId,
          ...(await snapshot()),
          alive: alive && Date.now() - alive.at < ALIVE_VALID_MS ? alive.ids : null,
          localMaintenance: flags.local || flags.manual,
          readings: monitors.readings(),
          lockspace: lockspace?.state() ?? null,
        };
      },
      // What should wake the agent before its next tick: the engine VM's state here or on any host's block.
      pulse: async () => {
        const s = await whiteboard.readAll();
        metrics.sawWhiteboard(s);
        const hosts = [...s.hosts.values()].map((b) => `${b.hostId}:${b.engineStatus.vm}`).sort();
        return [monitors.readings().engine.vm, s.global.maintenance, ...hosts].join('|');
      },
      localMaintenance: async () => {
        const flags = await readFlags();
        return flags.local || flags.manual;
      },
      setMaintenance: async ({ mode, enabled }) => {
        if (mode === 'global') await whiteboard.setGlobalMaintenance(enabled);
        else {
          const flags = await readFlags();
          await writeFlags(mode === 'local' ? { ...flags, local: enabled } : { ...flags, manual: enabled });
        }
        log.info({ mode, enabled }, 'maintenance mode set');
        return true;
      },
      leaseAcquire: () => lease.prepareStart(conf.hostId),
      leaseRenew: () => lease.confirmHold(conf.hostId),
      leaseRelease: async () => {
        await lease.releaseAfterStop(conf.hostId);
        return true;
      },
      leaseHolder: () => lease.holder(),
      leaseXml: async () => lease.leaseXml?.() ?? null,
      // --clean-metadata: only a block whose agent stopped cleanly, unless forced; never a live lease holder's.
      clearHost: async ({ hostId, force }) => {
        const s = await whiteboard.readAll();
        const block = s.hosts.get(hostId);
        const holder = await lease.holder();
        if (!force && holder?.hostId === hostId)
          throw BrokerError.of('leaseHeld', `host ${hostId} holds the engine VM lease; it is alive`);
        const state = hostId === conf.hostId ? undefined : (await sanlock?.hostStates())?.get(hostId);
        // As upstream (which must take the host's id in the lockspace to clean it): no force cleans a live host.
        if (state === 'LIVE' || state === 'FAIL')
          throw BrokerError.of(
            'hostAlive',
            `host ${hostId} is ${state} in the sanlock lockspace; it may still be alive`,
          );
        if (!force && block && !block.stopped)
          throw BrokerError.of('uncleanBlock', 'Cannot clean unclean metadata block. Consider --force-cleanup.');
        await whiteboard.clearHost(hostId);
        log.warn({ hostId, force }, 'metadata block cleaned');
        return true;
      },
      resetLease: async ({ force }) => {
        const s = await whiteboard.readAll();
        if (!force && !s.global.maintenance)
          throw BrokerError.of(
            'notInGlobalMaintenance',
            'Lockspace reinitialization is possible in global maintenance mode only',
          );
        if (!force && [...s.hosts.values()].some((b) => !b.stopped))
          throw BrokerError.of('agentActive', 'Lockspace reinitialization cannot be performed with an active agent');
        // Wiping the lease under a running engine VM would let a second one start (and sanlock kill the first).
        const holder = await lease.holder().catch(() => null);
        if (!force && holder)
          throw BrokerError.of(
            'leaseHeld',
            `Lockspace reinitialization cannot be performed while host ${holder.hostId} holds the engine VM lease`,
          );
        await lease.reset();
        log.warn({ force }, 'lockspace reinitialized');
        return true;
      },
    },
    log,
  );

  await mkdir(dirname(conf.brokerSocket), { recursive: true });
  await rm(conf.brokerSocket, { force: true });
  const listener: net.Server = await serveLines(server, conf.brokerSocket);
  await chmod(conf.brokerSocket, 0o660);
  // Metrics must not cost the HA: a metrics address that cannot be had is logged, and the broker serves on.
  const http = conf.metricsListen
    ? await serveBrokerMetrics(metrics, conf.metricsListen, log).catch((err: NodeJS.ErrnoException) => {
        log.error({ listen: conf.metricsListen, err: err.code ?? err.message }, 'metrics_listen: cannot listen');
        return undefined;
      })
    : undefined;
  log.info({ socket: conf.brokerSocket, hostId: conf.hostId, metrics: http?.address }, 'HA broker ready');
  return {
    metrics: http?.address,
    close: async () => {
      await http?.close();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await monitors.stop();
      // The host id stays in the lockspace: leaving it would make sanlock kill an engine VM running here.
      await lockspace?.stop();
    },
  };
}
