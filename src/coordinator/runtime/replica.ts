/**
 * One coordinator replica, composed: etcd (the configured members, or one embedded on loopback), the leadership
 * campaign, the store and the inventory on etcd, the links to the hosts (mutual TLS, the engine's role) with SSH
 * soft fencing, the Env they make, the driver ticking the pure core, the view the leader publishes, the metrics,
 * and the CoordinatorApi the HTTP server serves. `close()` stops them in reverse order.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { CoordinatorApi } from '../api/api.js';
import type { CoordinatorConfig } from '../core/config.js';
import { Coordinator } from '../core/coordinator.js';
import type { CoordinatorEnv } from '../core/env.js';
import { EtcdClient } from '../etcd/client.js';
import { type EmbeddedEtcd, startEmbeddedEtcd } from '../etcd/embedded.js';
import { Leadership } from '../etcd/leadership.js';
import { hostEnv } from '../hosts/env.js';
import { HostLinks, readClientTls } from '../hosts/links.js';
import { Inventory } from '../inventory/inventory.js';
import { hostRecord, type HostRecord } from '../inventory/records.js';
import { CoordinatorMetrics } from '../observe/metrics.js';
import { instrumentEnv } from '../observe/instrument-env.js';
import { SecretFiles } from '../secrets.js';
import { SoftFence } from '../ssh/restart.js';
import { decode } from '../store/decode.js';
import { EtcdStore } from '../store/etcd-store.js';
import { StoreKeys } from '../store/keys.js';
import { replicaApi } from './api.js';
import { StepDownReports } from './step-down.js';
import { type LeaderView, leaderView, viewOf } from './view.js';

export interface ReplicaConfig {
  name: string;
  /** Empty: start a single-member etcd on loopback with its data in `etcdDataDir`. */
  etcdEndpoints: string[];
  etcdDataDir: string;
  prefix: string;
  ttlSeconds: number;
  tickMs: number;
  secretsDir: string;
  hostsTls: { key: string; cert: string; ca: string } | null;
  policy: CoordinatorConfig;
}

export interface Replica {
  api: CoordinatorApi;
  metrics: CoordinatorMetrics;
  /** The etcd endpoints in use (the embedded member's when none were configured). */
  endpoints: string[];
  close(): Promise<void>;
}

const seconds = () => performance.now() / 1000;

/** Waits `ms`, or less when `signal` fires; leaves no listener behind. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
const VIEW_EVERY_MS = 1000;

export async function startReplica(cfg: ReplicaConfig, log: Logger): Promise<Replica> {
  let embedded: EmbeddedEtcd | undefined;
  if (cfg.etcdEndpoints.length === 0) embedded = await startEmbeddedEtcd({ dataDir: cfg.etcdDataDir, log });
  try {
    return await compose(cfg, log, embedded);
  } catch (err) {
    await embedded?.close();
    throw err;
  }
}

async function compose(cfg: ReplicaConfig, log: Logger, embedded: EmbeddedEtcd | undefined): Promise<Replica> {
  const endpoints = embedded?.endpoints ?? cfg.etcdEndpoints;
  const etcd = new EtcdClient({ endpoints, log });
  const keys = new StoreKeys(cfg.prefix);
  const metrics = new CoordinatorMetrics();
  // The driver is made below, from the Env that needs the leadership; the reports ask it late.
  const early: { driver?: Coordinator } = {};
  const reports = new StepDownReports({
    replica: cfg.name,
    etcd,
    keys,
    inFlight: () => early.driver?.effectsInFlight() ?? [],
    settleMs: Math.max(1000, 2 * cfg.tickMs),
    log,
  });
  const leadership = new Leadership({
    etcd,
    election: keys.election,
    candidate: cfg.name,
    ttlSeconds: cfg.ttlSeconds,
    // 2 s before the lease could expire, less for short test TTLs (it must stay under 2/3 of the TTL).
    marginMs: Math.min(2000, Math.floor((cfg.ttlSeconds * 1000) / 4)),
    log,
    onElected: (term) => log.info({ epoch: term.epoch }, 'this replica leads'),
    onLost: (term, reason) => {
      log.warn({ epoch: term.epoch, reason }, 'this replica no longer leads');
      reports.ended(term, reason);
    },
  });
  const store = new EtcdStore({
    etcd,
    leadership,
    keys,
    now: seconds,
    log,
    onRefused: (epoch, what) => reports.refused(epoch, what),
  });
  const inventory = new Inventory({ etcd, keys, log });
  const secrets = new SecretFiles(cfg.secretsDir);
  // VM_status events from the hosts ask the driver for an early stats poll.
  const links = new HostLinks({
    tls: cfg.hostsTls ? await readClientTls(cfg.hostsTls) : null,
    secrets,
    log,
    onVmStatus: (host) => early.driver?.pollSoon(host),
  });
  const records = new Map<string, HostRecord>();
  const refreshHosts = async () => {
    const r = await etcd.range({ key: keys.section('hosts'), prefix: true });
    const seen = new Set<string>();
    for (const kv of r.kvs) {
      const rec = decode(hostRecord, kv, log);
      if (!rec) continue;
      seen.add(rec.id);
      const old = records.get(rec.id);
      if (old?.address !== rec.address || old.port !== rec.port)
        links.setHost(rec.id, { address: rec.address, port: rec.port });
      records.set(rec.id, rec);
    }
    for (const id of [...records.keys()].filter((id) => !seen.has(id))) {
      records.delete(id);
      links.removeHost(id);
    }
  };
  const hosts = hostEnv({
    links,
    softFence: new SoftFence({ secrets, log }),
    signal: () => leadership.signal,
    host: (id) => records.get(id),
    vmXml: async (id) => (await inventory.vmDefinition(id))?.xml,
  });
  const env: CoordinatorEnv = instrumentEnv(
    {
      log,
      now: seconds,
      sleep: (s, signal) => pause(s * 1000, signal),
      leadership: () => store.leadership(),
      load: () => store.load(),
      writeFence: (e, h, i) => store.writeFence(e, h, i),
      writeVm: (e, vm) => store.writeVm(e, vm),
      writeHost: (e, h, s) => store.writeHost(e, h, s),
      removeVm: (e, vm) => store.removeVm(e, vm),
      confirmEpoch: (e) => store.confirmEpoch(e),
      audit: (e, ev) => store.audit(e, ev),
      commands: () => store.commands(),
      ...hosts,
    },
    metrics,
  );
  const driver = new Coordinator(env, cfg.policy, (r) => {
    metrics.recordStep(r, env.now());
    for (const line of r.log) log.info({ decision: line }, 'coordinator');
  });
  early.driver = driver;

  // The leader's view: written under its epoch when it changed, at most once a second.
  let lastView = '';
  let lastViewAt = 0;
  const wallOf = (monotonic: number) => Date.now() - (seconds() - monotonic) * 1000;
  const publishView = async () => {
    const term = leadership.current();
    if (!term || !driver.state || performance.now() - lastViewAt < VIEW_EVERY_MS) return;
    const view = viewOf(driver.state, cfg.name, term.epoch, wallOf);
    const text = JSON.stringify(view);
    if (text === lastView) return;
    const full: LeaderView = { ...view, at: Date.now() };
    await leadership.guarded([{ op: 'put', key: `${keys.prefix}view`, value: JSON.stringify(full) }]);
    lastView = text;
    lastViewAt = performance.now();
  };

  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        await refreshHosts();
        await driver.tick();
        await publishView();
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'coordinator tick failed');
      }
      await pause(cfg.tickMs, stopping.signal);
    }
  })();
  leadership.start();

  let etcdOkAt = 0;
  const api = replicaApi({
    replica: cfg.name,
    inventory,
    view: async () => {
      const r = await etcd.range({ key: `${keys.prefix}view` });
      const kv = r.kvs[0];
      return kv ? (decode(leaderView, kv, log) ?? null) : null;
    },
    leading: () => leadership.current(),
    etcdReachable: async () => {
      if (performance.now() - etcdOkAt < 2000) return true;
      try {
        await etcd.range({ key: `${keys.prefix}view` }, { timeoutMs: 1500 });
        etcdOkAt = performance.now();
        return true;
      } catch {
        return false;
      }
    },
    hosts: links.connections,
    log,
  });

  return {
    api,
    metrics,
    endpoints,
    close: async () => {
      stopping.abort();
      await loop;
      await driver.drain().catch(() => {});
      await leadership.stop();
      await reports.close();
      links.close();
      await embedded?.close();
    },
  };
}
