/** What every part of a step shares: its context, and the two moves all of them make (a state change, a guard). */
import type { PartitionView } from './cluster.js';
import type { CoordinatorConfig } from './config.js';
import type { CoreState } from './state.js';
import type { Action, AuditEvent, GuardName, HostState, HostStatus } from './types.js';

export interface Ctx {
  now: number;
  cfg: CoordinatorConfig;
  st: CoreState;
  actions: Action[];
  audit: AuditEvent[];
  log: string[];
  partition: PartitionView;
}

export const FENCE_STATES: readonly HostStatus[] = [
  'NonResponsive',
  'SoftFencing',
  'HardFencing',
  'FenceSkipped',
  'FenceFailed',
  'AwaitingManualConfirm',
];

/** VM statuses (as vdsm reports them) that mean the VM runs on that host. */
export const RUNNING = ['Up', 'Powering up', 'WaitForLaunch', 'Migration Source', 'Migration Destination'];

export function go(c: Ctx, h: HostState, to: HostStatus, why: string): void {
  if (h.status === to) return;
  c.log.push(`${h.spec.id} ${h.status} -> ${to}: ${why}`);
  h.status = to;
  h.since = c.now;
}

export function guardAudit(c: Ctx, h: HostState, guard: GuardName, text: string): void {
  if (h.guard === guard) return;
  h.guard = guard;
  c.log.push(`${h.spec.id}: guard ${guard}: ${text}`);
  c.audit.push({ at: c.now, host: h.spec.id, kind: 'guard', guard, alert: true, text });
}
