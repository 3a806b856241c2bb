/** The changes of a VM record that recovery, polls and results share. */
import type { Ctx } from './context.js';
import type { VmRecord } from './types.js';
import { NOT_IN_RECOVERY } from './types.js';

/** Down, off any host, and queued for a restart now: it came from `from`, a fenced or vanished host's copy. */
export function queueForRestart(vm: VmRecord, from: string, now: number): void {
  Object.assign(vm, {
    owner: null,
    state: 'down',
    restart: true,
    from,
    queuedAt: now,
    attempts: 0,
    nextTryAt: now,
    startSentAt: null,
  } satisfies Partial<VmRecord>);
}

export function settleRunning(c: Ctx, vm: VmRecord, host: string): void {
  Object.assign(vm, { owner: host, state: 'running', everUp: true, ...NOT_IN_RECOVERY } satisfies Partial<VmRecord>);
  c.actions.push({ kind: 'write-vm', vm: { ...vm } });
}

export function failedStart(c: Ctx, vm: VmRecord, why: string): void {
  vm.attempts += 1;
  const wait = vm.attempts <= c.cfg.retryShortCount ? c.cfg.retryShort : c.cfg.retryLong;
  c.log.push(`${vm.id}: ${why}; try ${vm.attempts + 1} in ${wait} s`);
  Object.assign(vm, {
    state: 'down',
    owner: null,
    startSentAt: null,
    nextTryAt: c.now + wait,
  } satisfies Partial<VmRecord>);
  c.actions.push({ kind: 'write-vm', vm: { ...vm } });
}
