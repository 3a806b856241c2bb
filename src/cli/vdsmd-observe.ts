/**
 * vdsmd's /metrics and /health (docs/metrics.md): one registry per service with the wire's metrics, the VMs by
 * status and the libvirt connection read at scrape time, fence actions, build info and the process defaults.
 * Nothing here calls libvirt: a scrape or a health check must answer even when libvirtd hangs.
 */
import type http from 'node:http';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { softwareVersion } from '../host/version.js';
import { createHttpEndpoints, jsonAnswer } from '../rpc/http.js';
import { WireMetrics } from '../rpc/metrics.js';
import type { VmManager } from '../virt/manager.js';
import { VmStatus } from '../virt/vmstatus.js';

export interface VdsmdObservability {
  registry: Registry;
  wire: WireMetrics;
  /** VerbContext.onFenceAction. */
  fenceAction(agent: string, action: string, outcome: string): void;
  /** Hand it to the listener: it serves the management port's HTTP connections. */
  http: http.Server;
}

/** `vms()`: the VM container, absent while libvirt is not connected and recovered. */
export function observeVdsmd(options: { log: Logger; vms: () => VmManager | undefined }): VdsmdObservability {
  const { vms } = options;
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  const wire = new WireMetrics(registry);
  new Gauge({
    name: 'vdsm_vms',
    help: "VMs in vdsmd's container by status, as Host.getVMList reports it (Down ones included until destroyed).",
    labelNames: ['status'],
    registers,
    collect() {
      const counts = new Map<string, number>(Object.values(VmStatus).map((s) => [s, 0]));
      for (const vm of listVms(vms())) counts.set(vm.status, (counts.get(vm.status) ?? 0) + 1);
      for (const [status, n] of counts) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'vdsm_libvirt_connected',
    help: 'Whether vdsmd is connected to libvirt and has recovered its domains (1), or not (0: verbs answer 99).',
    registers,
    collect() {
      this.set(vms() ? 1 : 0);
    },
  });
  const fence = new Counter({
    name: 'vdsm_fence_actions_total',
    help: 'Host.fenceNode calls, by agent (without fence_; unknown: not an agent of this host), action and outcome (on/off: the power status read; initiated: on/off/reboot done; skipped: by the fencing policy; failed: the agent failed; no_agent).',
    labelNames: ['agent', 'action', 'outcome'],
    registers,
  });
  const build = new Gauge({
    name: 'vdsm_build_info',
    help: 'Always 1; the version label is the running vdsm-ts.',
    labelNames: ['version'],
    registers,
  });
  void softwareVersion().then(
    ({ version }) => build.set({ version }, 1),
    () => build.set({ version: 'unknown' }, 1),
  );

  const http = createHttpEndpoints({
    log: options.log,
    routes: {
      '/metrics': async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
      '/health': () => {
        const libvirt = vms() ? 'ok' : 'disconnected';
        const ok = libvirt === 'ok';
        return jsonAnswer(ok ? 200 : 503, { status: ok ? 'ok' : 'degraded', checks: { libvirt } });
      },
    },
  });
  return { registry, wire, fenceAction: (agent, action, outcome) => fence.inc({ agent, action, outcome }), http };
}

/** The container's list, or none when it is closing under the scrape. */
function listVms(vms: VmManager | undefined): { status: string }[] {
  try {
    return vms?.list() ?? [];
  } catch {
    return [];
  }
}
