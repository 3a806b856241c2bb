/**
 * What the operator surface (HTTP API, CLI) asks of a coordinator replica. The store (etcd) implements it: reads
 * come from etcd and the leader's published view, changes are queued as operator commands that the leader's core
 * applies under its epoch (src/coordinator/core/types.ts, `Command`). The HTTP layer (server.ts) only validates,
 * calls and answers.
 */
import type { HostRecordInput } from '../inventory/records.js';
import type { Accepted, EventView, Health, HostView, StatusView, VmView } from './schemas.js';

export interface CoordinatorApi {
  health(): Promise<Health>;
  status(): Promise<StatusView>;
  hosts(): Promise<HostView[]>;
  vms(): Promise<VmView[]>;
  /** The audit trail: events with seq > since (all when absent), the latest `limit` of them, oldest first. */
  events(q: { since?: number; limit: number }): Promise<EventView[]>;
  /** Events as they are appended (after `since` when given, else only new ones) until `signal` aborts. */
  followEvents(q: { since?: number }, signal: AbortSignal): AsyncIterable<EventView>;

  addHost(host: HostRecordInput, by: string): Promise<Accepted>;
  /** Refused unless the host is in maintenance with no VM. */
  removeHost(host: string, by: string): Promise<Accepted>;
  /** on: maintenance (its VMs moved away, or refused with keepVms while it runs any); off: activate. */
  setMaintenance(host: string, m: { on: boolean; keepVms: boolean }, by: string): Promise<Accepted>;
  /** Refused unless the host is NonResponsive or its fence failed; `by` is recorded with the time. */
  confirmRebooted(host: string, by: string): Promise<Accepted>;
  /** Hosted-engine global maintenance through an Up host that runs HA. */
  setGlobalMaintenance(on: boolean, by: string): Promise<Accepted>;

  defineVm(vm: { xml: string; ha: boolean; priority: number }, by: string): Promise<Accepted>;
  startVm(vm: string, opts: { host?: string }, by: string): Promise<Accepted>;
  stopVm(vm: string, by: string): Promise<Accepted>;
  /** Refused unless the VM is stopped, down or in error. */
  removeVm(vm: string, by: string): Promise<Accepted>;
}

export type ApiErrorKind = 'bad-request' | 'not-found' | 'refused' | 'unavailable';

const HTTP_STATUS: Record<ApiErrorKind, number> = {
  'bad-request': 400,
  'not-found': 404,
  refused: 409,
  unavailable: 503,
};

/** A failure the caller should read (its message goes to the client as is; it must never hold a secret). */
export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.kind];
  }
}
