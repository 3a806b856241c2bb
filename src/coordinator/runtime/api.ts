/**
 * The CoordinatorApi of a replica: the inventory in etcd (requests queued for the leader's core), the view the
 * leader publishes (how each host is), this replica's leadership, and hosted-engine global maintenance through a
 * host that runs HA. Any replica answers; only the leader acts on what was queued.
 *
 * The API's event `seq` is the audit id `<epoch>-<n>` read as one number, epoch × 10⁹ + n: it grows across leaders
 * as the ids sort, and `since` turns back into an id.
 */
import type { Logger } from 'pino';
import { ApiError, type CoordinatorApi } from '../api/api.js';
import type { Accepted, EventView, HostView, StatusView, VmView } from '../api/schemas.js';
import type { HostViewState, VmState } from '../core/types.js';
import { EtcdError, NotLeaderError } from '../etcd/errors.js';
import type { HostCaller } from '../hosts/caller.js';
import { InventoryError } from '../inventory/errors.js';
import type { Inventory, Queued } from '../inventory/inventory.js';
import type { AuditEntry } from '../store/audit-reader.js';
import { auditId, parseAuditId } from '../store/keys.js';
import type { LeaderView } from './view.js';

const SEQ_PER_EPOCH = 1e9;

export interface ReplicaApiDeps {
  replica: string;
  inventory: Inventory;
  /** The leader's last published view (read from etcd); null when none was written yet. */
  view(): Promise<LeaderView | null>;
  /** This replica's term while it leads. */
  leading(): { epoch: number } | undefined;
  /** True when etcd answered lately. */
  etcdReachable(): Promise<boolean>;
  hosts: HostCaller;
  log: Logger;
}

export const seqOf = (id: string): number => {
  const p = parseAuditId(id);
  return p ? p.epoch * SEQ_PER_EPOCH + p.seq : 0;
};
const idOf = (seq: number): string => auditId(Math.floor(seq / SEQ_PER_EPOCH), seq % SEQ_PER_EPOCH);

function eventView(e: AuditEntry): EventView {
  const { event } = e;
  return {
    seq: seqOf(e.id),
    time: e.time,
    ...(event.host === undefined ? {} : { host: event.host }),
    kind: event.kind,
    ...(event.guard === undefined ? {} : { guard: event.guard }),
    alert: event.alert,
    text: event.text,
  };
}

/** The store's refusals as the API's; etcd out of reach is "unavailable" (503), never a 500. */
async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof InventoryError) {
      const kind = err.kind === 'invalid' ? 'bad-request' : err.kind === 'exists' ? 'refused' : 'not-found';
      throw new ApiError(kind, err.message);
    }
    if (err instanceof EtcdError || err instanceof NotLeaderError)
      throw new ApiError('unavailable', `etcd did not answer: ${err.message}`);
    throw err;
  }
}

const accepted = (_q: Queued, detail: string): Accepted => ({ detail: `queued for the leader: ${detail}` });

export function replicaApi(d: ReplicaApiDeps): CoordinatorApi {
  const role = () => (d.leading() ? ('leader' as const) : ('follower' as const));
  return {
    async health() {
      const etcd = await d.etcdReachable();
      return { ok: etcd, role: role(), epoch: d.leading()?.epoch ?? null, etcd };
    },

    status: () =>
      mapped(async (): Promise<StatusView> => {
        const [view, vms, etcd] = await Promise.all([d.view(), d.inventory.vms(), d.etcdReachable()]);
        const hosts: Partial<Record<HostViewState, number>> = {};
        for (const h of Object.values(view?.hosts ?? {})) hosts[h.state] = (hosts[h.state] ?? 0) + 1;
        const vmStates: Partial<Record<VmState, number>> = {};
        for (const v of vms) {
          const s = v.record?.state ?? 'stopped';
          vmStates[s] = (vmStates[s] ?? 0) + 1;
        }
        const ha = Object.values(view?.hosts ?? {}).find((h) => h.ha?.configured);
        return {
          replica: d.replica,
          role: role(),
          epoch: d.leading()?.epoch ?? null,
          leader: view?.replica ?? null,
          etcd,
          hosts,
          vms: vmStates,
          globalMaintenance: ha?.ha ? ha.ha.globalMaintenance : null,
        };
      }),

    hosts: () =>
      mapped(async (): Promise<HostView[]> => {
        const [hosts, view, vms] = await Promise.all([d.inventory.hosts(), d.view(), d.inventory.vms()]);
        return hosts.map((h) => ({
          ...h.record,
          state: view?.hosts[h.record.id]?.state ?? null,
          maintenance: h.maintenance ?? false,
          vms: vms.filter((v) => v.record?.owner === h.record.id && isOn(v.record.state)).length,
          ha: view?.hosts[h.record.id]?.ha ?? null,
        }));
      }),

    vms: () =>
      mapped(async (): Promise<VmView[]> =>
        (await d.inventory.vms()).map((v) => ({
          id: v.id,
          name: v.name ?? v.id,
          state: v.record?.state ?? 'stopped',
          owner: v.record?.owner ?? null,
          ha: v.record?.ha ?? v.definition?.ha ?? false,
          priority: v.record?.priority ?? v.definition?.priority ?? 0,
          memMiB: v.record?.memMiB ?? v.definition?.memMiB ?? 0,
          everUp: v.record?.everUp ?? false,
        })),
      ),

    events: (q) =>
      mapped(async () => {
        const page = await d.inventory.events({
          ...(q.since === undefined ? {} : { since: idOf(q.since) }),
          limit: q.limit,
        });
        return page.entries.map(eventView);
      }),

    followEvents(q, signal) {
      const queue: EventView[] = [];
      let wake: (() => void) | undefined;
      let failed: unknown;
      const onEntry = (e: AuditEntry) => {
        queue.push(eventView(e));
        wake?.();
      };
      // With `since`: what is already there after it, then the watch from the revision that page was read at.
      const done = (async () => {
        let from: { after?: string; fromRevision?: number } = {};
        if (q.since !== undefined) {
          const page = await d.inventory.events({ since: idOf(q.since), limit: 1000 });
          page.entries.forEach(onEntry);
          from = { after: page.entries.at(-1)?.id ?? idOf(q.since), fromRevision: page.revision + 1 };
        }
        await d.inventory.follow({ signal, ...from, onEntry });
      })()
        .catch((err: unknown) => (failed = err))
        .finally(() => wake?.());
      return {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            while (queue.length > 0) yield queue.shift()!;
            if (signal.aborted || failed !== undefined) break;
            await Promise.race([new Promise<void>((r) => (wake = r)), done]);
            wake = undefined;
          }
        },
      };
    },

    addHost: (host, by) => mapped(async () => accepted(await d.inventory.addHost(host, by), `add host ${host.id}`)),
    removeHost: (host, by) => mapped(async () => accepted(await d.inventory.removeHost(host, by), `remove ${host}`)),
    setMaintenance: (host, m, by) =>
      mapped(async () =>
        accepted(
          await d.inventory.maintenance(host, m.on, m.keepVms, by),
          `${host}: maintenance ${m.on ? 'on' : 'off'}`,
        ),
      ),
    confirmRebooted: (host, by) =>
      mapped(async () => accepted(await d.inventory.confirmRebooted(host, by), `${host}: confirmed rebooted by ${by}`)),

    async setGlobalMaintenance(on, by) {
      const view = await mapped(() => d.view());
      const host = Object.entries(view?.hosts ?? {}).find(([, h]) => h.state === 'Up' && h.ha?.configured)?.[0];
      if (!host) throw new ApiError('refused', 'no Up host runs hosted-engine HA to set global maintenance through');
      const r = (await d.hosts
        .call(
          host,
          'Host.setHaMaintenanceMode',
          { mode: 'GLOBAL', enabled: on },
          { timeoutMs: 30_000, signal: new AbortController().signal },
        )
        .catch((err: Error) => {
          throw new ApiError('unavailable', `${host} did not set global maintenance: ${err.message}`);
        })) as { code?: unknown } | null;
      d.log.info({ host, on, by }, 'hosted-engine global maintenance set through a host');
      if (r?.code !== undefined && r.code !== 0)
        throw new ApiError('refused', `${host} refused global maintenance ${on ? 'on' : 'off'}`);
      return { detail: `global maintenance ${on ? 'on' : 'off'} through ${host}` };
    },

    defineVm: (vm, by) =>
      mapped(async () => {
        const q = await d.inventory.defineVm(vm.xml, { ha: vm.ha, priority: vm.priority }, by);
        const id = q.command.kind === 'vm-define' ? q.command.vm.id : undefined;
        return { ...accepted(q, `define VM ${id ?? ''}`.trim()), ...(id === undefined ? {} : { id }) };
      }),
    startVm: (vm, opts, by) =>
      mapped(async () => accepted(await d.inventory.startVm(vm, opts.host, by), `start ${vm}`)),
    stopVm: (vm, by) => mapped(async () => accepted(await d.inventory.stopVm(vm, by), `stop ${vm}`)),
    removeVm: (vm, by) => mapped(async () => accepted(await d.inventory.removeVm(vm, by), `remove ${vm}`)),
  };
}

const isOn = (s: VmState) => s === 'running' || s === 'starting' || s === 'unknown';
