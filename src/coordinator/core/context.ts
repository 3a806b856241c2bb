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

/**
 * The host states whose entry the audit trail records (kind `fence`), so that `events` tells a fence's story to the
 * person on call; the log keeps every step. Coming back Up from one of them is recorded too.
 */
const FENCE_STORY: readonly HostStatus[] = [
  'NonResponsive',
  'SoftFencing',
  'HardFencing',
  'PowerOffConfirmed',
  'FenceFailed',
  'AwaitingManualConfirm',
  'Down',
  'Rebooting',
];

export function go(c: Ctx, h: HostState, to: HostStatus, why: string): void {
  if (h.status === to) return;
  const line = `${h.status} -> ${to}: ${why}`;
  c.log.push(`${h.spec.id} ${line}`);
  if (FENCE_STORY.includes(to) || (to === 'Up' && (FENCE_STORY.includes(h.status) || FENCE_STATES.includes(h.status))))
    c.audit.push({ at: c.now, host: h.spec.id, kind: 'fence', alert: false, text: line });
  h.status = to;
  h.since = c.now;
}

export function guardAudit(c: Ctx, h: HostState, guard: GuardName, text: string): void {
  if (h.guard === guard) return;
  h.guard = guard;
  c.log.push(`${h.spec.id}: guard ${guard}: ${text}`);
  c.audit.push({ at: c.now, host: h.spec.id, kind: 'guard', guard, alert: true, text });
}
