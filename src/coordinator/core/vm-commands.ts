/**
 * VM commands: vm-define, vm-start, vm-stop, vm-remove. A start goes through recovery's path (every reachable host's
 * VM list read first, the `starting` record written before VM.create); a stop through maintenance.ts's shutdowns.
 */
import { isUp, placeVm } from './cluster.js';
import { accepted, refused } from './command-audit.js';
import type { Ctx } from './context.js';
import { newStop } from './maintenance.js';
import type { Command, VmRecord } from './types.js';
import { NOT_IN_RECOVERY } from './types.js';

/** A VM recorded stopped that its host still runs (or is still asked to shut down). */
function stopPending(c: Ctx, vm: VmRecord): boolean {
  if (vm.state !== 'stopped' || vm.owner === null) return false;
  return c.st.stops[vm.id] !== undefined || (c.st.hosts[vm.owner]?.vmsSeen.includes(vm.id) ?? false);
}

export function vmDefine(c: Ctx, cmd: Extract<Command, { kind: 'vm-define' }>): void {
  const d = cmd.vm;
  const what = `vm-define ${d.id}`;
  if (d.id === '') return refused(c, what, cmd.by, 'a VM needs an id');
  if (c.st.vms[d.id]) return refused(c, what, cmd.by, 'a VM of that id is defined already');
  if (!Number.isInteger(d.priority) || d.priority < 0 || d.priority > 100)
    return refused(c, what, cmd.by, `priority ${d.priority} is not a whole number from 0 to 100`);
  if (!Number.isInteger(d.memMiB) || d.memMiB < 1)
    return refused(c, what, cmd.by, `memory ${d.memMiB} MiB is not a whole number above 0`);
  const vm: VmRecord = {
    id: d.id,
    ha: d.ha,
    priority: d.priority,
    memMiB: d.memMiB,
    owner: null,
    state: 'stopped',
    everUp: false,
    generation: 1,
    ...NOT_IN_RECOVERY,
  };
  c.st.vms[d.id] = vm;
  c.actions.push({ kind: 'write-vm', vm: { ...vm } });
  accepted(c, what, cmd.by, `stopped, on no host (${d.ha ? 'HA, ' : ''}priority ${d.priority}, ${d.memMiB} MiB)`);
}

export function vmStart(c: Ctx, cmd: Extract<Command, { kind: 'vm-start' }>): void {
  const what = `vm-start ${cmd.vm}${cmd.host !== undefined ? ` on ${cmd.host}` : ''}`;
  const vm = c.st.vms[cmd.vm];
  if (!vm) return refused(c, what, cmd.by, 'no such VM');
  if (vm.state === 'running' || vm.state === 'starting' || vm.state === 'unknown')
    return refused(c, what, cmd.by, `it is ${vm.state} on ${vm.owner ?? 'no host'}`);
  if (vm.restart) return refused(c, what, cmd.by, 'it is queued to start already');
  if (stopPending(c, vm)) return refused(c, what, cmd.by, `it is still being shut down on ${vm.owner}`);
  if (cmd.host !== undefined) {
    const h = c.st.hosts[cmd.host];
    if (!h) return refused(c, what, cmd.by, `no host ${cmd.host}`);
    if (!isUp(h) || h.failures > 0)
      return refused(c, what, cmd.by, `${cmd.host} is ${h.everUp ? h.status : 'not heard from yet'}, not Up`, cmd.host);
    if (placeVm([h], vm, {}) === null)
      return refused(
        c,
        what,
        cmd.by,
        `${cmd.host} has ${h.freeMemMiB} MiB free, the VM needs ${vm.memMiB} MiB`,
        cmd.host,
      );
  }
  // Queued as recovery queues a VM; a named host is the first try's (retries go wherever there is room).
  Object.assign(vm, {
    owner: cmd.host ?? null,
    restart: true,
    from: null,
    queuedAt: c.now,
    attempts: 0,
    nextTryAt: c.now,
    startSentAt: null,
    generation: vm.generation + 1,
  } satisfies Partial<VmRecord>);
  c.actions.push({ kind: 'write-vm', vm: { ...vm } });
  accepted(c, what, cmd.by, 'queued: started once every reachable host has listed its VMs');
}

export function vmStop(c: Ctx, cmd: Extract<Command, { kind: 'vm-stop' }>): void {
  const what = `vm-stop ${cmd.vm}`;
  const vm = c.st.vms[cmd.vm];
  if (!vm) return refused(c, what, cmd.by, 'no such VM');
  if (vm.state === 'starting')
    return refused(c, what, cmd.by, `it is being started on ${vm.owner ?? 'a host'}: stop it once it is Up`);
  if (vm.state === 'unknown')
    return refused(c, what, cmd.by, `its host ${vm.owner ?? ''} does not answer: its state is Unknown`);
  if (vm.state !== 'running' && vm.restart) {
    Object.assign(vm, { state: 'stopped', owner: null, generation: vm.generation + 1, ...NOT_IN_RECOVERY });
    c.actions.push({ kind: 'write-vm', vm: { ...vm } });
    return accepted(c, what, cmd.by, 'its start was still queued: cancelled; it stays stopped');
  }
  if (vm.state !== 'running' && !stopPending(c, vm)) return refused(c, what, cmd.by, `it is not running (${vm.state})`);
  const host = vm.owner!;
  if (vm.state === 'running') {
    // Recorded stopped before the shutdown is sent: whatever the host says next, the VM is not restarted.
    Object.assign(vm, { state: 'stopped', generation: vm.generation + 1, ...NOT_IN_RECOVERY });
    c.actions.push({ kind: 'write-vm', vm: { ...vm } });
  }
  const s = c.st.stops[vm.id];
  c.st.stops[vm.id] = {
    ...(s ?? newStop(host, 'stop', cmd.by, c.now)),
    why: 'stop',
    by: cmd.by,
    attempts: 0,
    nextAt: c.now,
  };
  accepted(c, what, cmd.by, `shut down on ${host}; it stays stopped${vm.ha ? ' (HA: not restarted)' : ''}`, host);
}

export function vmRemove(c: Ctx, cmd: Extract<Command, { kind: 'vm-remove' }>): void {
  const what = `vm-remove ${cmd.vm}`;
  const vm = c.st.vms[cmd.vm];
  if (!vm) return refused(c, what, cmd.by, 'no such VM');
  if (vm.state !== 'stopped' && vm.state !== 'down' && vm.state !== 'error')
    return refused(c, what, cmd.by, `it is ${vm.state}: only a stopped, down or error VM is removed`);
  if (vm.restart) return refused(c, what, cmd.by, 'it is queued to start: vm-stop it first');
  if (stopPending(c, vm)) return refused(c, what, cmd.by, `it is still being shut down on ${vm.owner}`);
  delete c.st.vms[vm.id];
  delete c.st.stops[vm.id];
  c.actions.push({ kind: 'remove-vm', vm: vm.id });
  accepted(c, what, cmd.by, 'its record and definition are deleted');
}
