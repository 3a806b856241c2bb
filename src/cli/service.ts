import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { EventBus } from '../common/events.js';
import { HA_NOT_CONFIGURED, type HaStatusProvider } from '../common/ha-status.js';
import { HostStatsSampler } from '../host/stats.js';
import { loadAgents } from '../plugins/fence/loader.js';
import { JsonRpcDispatcher } from '../rpc/jsonrpc.js';
import { eventToJson } from '../rpc/notification.js';
import { listen, type Listener, type ListenOptions, type TlsFiles } from '../rpc/server.js';
import { StompBroker } from '../rpc/stomp/broker.js';
import { bindVerb } from '../verbs/bind.js';
import { VERBS } from '../verbs/catalogue.js';
import type { VerbContext } from '../verbs/context.js';
import type { Hypervisor } from '../virt/hypervisor.js';
import { VirtSupervisor } from '../virt/supervisor.js';
import type { VdsmdConfig } from './config.js';
import { BUILTIN_FENCE_AGENTS } from './fence-agents.js';
import { observeVdsmd, type VdsmdObservability } from './vdsmd-observe.js';

export interface Vdsmd {
  port: number;
  events: EventBus;
  broker: StompBroker;
  dispatcher: JsonRpcDispatcher;
  /** Resolves once libvirt is connected and its domains recovered; until then every call answers 99. */
  recovered: Promise<void>;
  virt: VirtSupervisor;
  /** The /metrics registry and its feeders (docs/metrics.md). */
  observe: VdsmdObservability;
  /** Marks the service ready; until then every call answers 99 (vdsm's recovery). */
  setReady(ready: boolean): void;
  close(): Promise<void>;
}

export interface ServiceDeps {
  log: Logger;
  ha?: HaStatusProvider;
  /** Opens the hypervisor connection (default: libvirt at config.libvirtUri); tests wrap it to delay or drop events. */
  openHypervisor?: (uri: string) => Promise<Hypervisor>;
}

/** Wires the parts of vdsmd together: verbs into the JSON-RPC dispatcher, the dispatcher and events into STOMP. */
export async function startVdsmd(config: VdsmdConfig, deps: ServiceDeps): Promise<Vdsmd> {
  const { log } = deps;
  let ready = false;
  // Scrapes may come before libvirt is even tried: the listener opens first.
  const started: { virt?: VirtSupervisor } = {};
  const observe = observeVdsmd({ log, vms: () => started.virt?.vms });
  const events = new EventBus();
  const dispatcher = new JsonRpcDispatcher({
    log,
    isReady: () => ready,
    onRequest: (method, code, seconds) => observe.wire.request(method, code, seconds),
  });
  const fence = await loadAgents(BUILTIN_FENCE_AGENTS, config.fencePluginDir);
  for (const { source, reason } of fence.rejected) log.warn({ source, reason }, 'fence plugin refused');
  // Said even when none loaded: a file that is not *.js or *.mjs is skipped without a word, and this shows it missing.
  const dropIns = [...fence.agents]
    .filter(([name, agent]) => name === agent.name && !BUILTIN_FENCE_AGENTS.includes(agent))
    .map(([name]) => name);
  log.info({ dir: config.fencePluginDir, agents: dropIns }, 'fence plugins loaded');
  const hostStats = new HostStatsSampler();
  const tls = config.ssl ? await readTlsFiles(config) : undefined;
  // The host certificate doubles as the client certificate towards peers (Host.probePeer): the same CA signed both.
  const ctx: Omit<VerbContext, 'localAddress'> = {
    ha: deps.ha ?? HA_NOT_CONFIGURED,
    log,
    fence,
    hostStats,
    peerTls: tls,
    onFenceAction: observe.fenceAction,
  };
  for (const verb of VERBS) dispatcher.register(verb.name, bindVerb(verb, ctx));

  const broker = new StompBroker({ log, onRequest: (body, meta) => dispatcher.handle(body, meta) });
  // As vdsm: events raised before the host is ready (recovery) are not sent.
  const unsubscribe = events.subscribe((event) => {
    if (ready) observe.wire.eventSent(event.method, broker.publishEvent(eventToJson(event)));
  });
  // The first CPU reading, so that the first Host.getStats already measures a real window.
  await hostStats.start();
  const listener = await listenWithFallback(config, {
    tls,
    broker,
    log,
    http: observe.http,
    connections: observe.wire,
  });
  // Like vdsm: listen at once, answer 99 until libvirt's domains are recovered.
  const virt = new VirtSupervisor({
    uri: config.libvirtUri,
    events,
    log,
    guestWaitMs: config.guestWaitTimeout * 1000,
    sampleIntervalMs: config.vmSampleInterval * 1000,
    onChange: (vms) => {
      ctx.vms = vms;
      ready = vms !== undefined;
    },
    open: deps.openHypervisor,
  });
  started.virt = virt;
  const recovered = virt.start();

  return {
    port: listener.address.port,
    events,
    broker,
    dispatcher,
    recovered,
    virt,
    observe,
    setReady: (value) => {
      ready = value;
    },
    close: async () => {
      unsubscribe();
      await listener.close();
      await virt.close();
      hostStats.stop();
    },
  };
}

async function readTlsFiles(config: VdsmdConfig): Promise<TlsFiles> {
  const read = async (what: string, path: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(
        `ssl is on but the ${what} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
        { cause: err },
      );
    }
  };
  return {
    key: await read('key (ssl_key)', config.sslKey),
    cert: await read('certificate (ssl_cert)', config.sslCert),
    ca: await read('CA certificate (ssl_ca)', config.sslCa),
  };
}

/** Like vdsm: listening on `::` falls back to 0.0.0.0 where the host has no IPv6. */
async function listenWithFallback(
  config: VdsmdConfig,
  options: Omit<ListenOptions, 'host' | 'port'>,
): Promise<Listener> {
  try {
    return await listen({ ...options, host: config.bind, port: config.port });
  } catch (err) {
    if (config.bind !== '::' || (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
    options.log.warn('IPv6 unavailable; listening on 0.0.0.0');
    return listen({ ...options, host: '0.0.0.0', port: config.port });
  }
}
