/**
 * Host commands: maintenance on and off (activate), host-add, host-remove. Maintenance is persisted
 * (`write-host`) so that a new leader restores it; its VM moves and HA calls are maintenance.ts's.
 */
import { accepted, refused } from './command-audit.js';
import { FENCE_STATES, go, type Ctx } from './context.js';
import { persistHost } from './host-state.js';
import { newHaOp } from './maintenance.js';
import { freshHost } from './state.js';
import type { Command, HostState, HostStatus } from './types.js';

/** States after a confirmed OFF: their fence intent is finished business once the host is in maintenance. */
const AFTER_OFF: readonly HostStatus[] = ['PowerOffConfirmed', 'RecoveringVMs', 'Rebooting', 'Down'];

/** The VMs a host runs as far as the core knows: recorded there (running, starting, unknown) or listed by it. */
export function vmsOn(c: Ctx, h: HostState): string[] {
  const recorded = Object.values(c.st.vms)
    .filter((v) => v.owner === h.spec.id && ['running', 'starting', 'unknown'].includes(v.state))
    .map((v) => v.id);
  return [...new Set([...recorded, ...h.vmsSeen])].sort();
}

export function maintenance(c: Ctx, cmd: Extract<Command, { kind: 'maintenance' }>): void {
  const what = `maintenance ${cmd.on ? 'on' : 'off'} ${cmd.host}${cmd.keepVms ? ' keep-vms' : ''}`;
  const h = c.st.hosts[cmd.host];
  if (!h) return refused(c, what, cmd.by, 'no such host');
  const id = h.spec.id;
  if (!cmd.on) {
    if (h.status !== 'Maintenance') return refused(c, what, cmd.by, `the host is ${h.status}, not in maintenance`, id);
    h.spec = { ...h.spec, maintenance: false };
    c.st.haOps[id] = newHaOp(false, cmd.by, c.now, false);
    persistHost(c, h);
    // Moves not under way end here; one whose VM.shutdown is out finishes (its VM starts elsewhere).
    for (const [vm, s] of Object.entries(c.st.stops))
      if (s.host === id && s.why === 'move' && s.awaiting === null) delete c.st.stops[vm];
    h.lastOk = c.now;
    h.failures = 0;
    accepted(c, what, cmd.by, 'back in placement and fencing', id);
    return go(c, h, 'Up', `maintenance off by ${cmd.by}`);
  }
  if (h.status === 'Maintenance') {
    for (const s of Object.values(c.st.stops))
      if (s.host === id && s.awaiting === null) Object.assign(s, { attempts: 0, nextAt: c.now });
    const op = c.st.haOps[id];
    if (op && !op.done && op.awaiting === null) Object.assign(op, { attempts: 0, nextAt: c.now });
    return accepted(c, what, cmd.by, 'already in maintenance: what is left undone is tried again now', id);
  }
  if (FENCE_STATES.includes(h.status) && h.status !== 'NonResponsive')
    return refused(c, what, cmd.by, `a fence flow is under way (${h.status}): it ends first`, id);
  const vms = vmsOn(c, h);
  if (cmd.keepVms && vms.length > 0)
    return refused(c, what, cmd.by, `it runs ${vms.join(', ')} and keep-vms moves none`, id);
  if (AFTER_OFF.includes(h.status)) c.actions.push({ kind: 'write-fence', host: id, intent: null });
  Object.assign(h, { flow: null, guard: null, recheckAt: null, rebootUntil: null, manual: null });
  h.spec = { ...h.spec, maintenance: true };
  c.st.haOps[id] = newHaOp(true, cmd.by, c.now, false);
  persistHost(c, h);
  const moves =
    vms.length === 0
      ? 'no VM to move'
      : `${vms.join(', ')} ${vms.length === 1 ? 'moves' : 'move'} to other hosts (shut down, started there)`;
  accepted(c, what, cmd.by, `out of fencing and placement; ${moves}`, id);
  go(c, h, 'Maintenance', `maintenance on by ${cmd.by}`);
}

export function hostAdd(c: Ctx, cmd: Extract<Command, { kind: 'host-add' }>): void {
  const { spec } = cmd;
  const what = `host-add ${spec.id}`;
  if (spec.id === '') return refused(c, what, cmd.by, 'a host needs an id');
  if (c.st.hosts[spec.id]) return refused(c, what, cmd.by, 'a host of that id is watched already', spec.id);
  const h = freshHost(spec, c.now);
  h.everUp = false;
  if (spec.maintenance) h.status = 'Maintenance';
  c.st.hosts[spec.id] = h;
  persistHost(c, h);
  const pm = spec.agents.length > 0 ? `${spec.agents.length} fence agent(s)` : 'no power management';
  accepted(
    c,
    what,
    cmd.by,
    `watched from now on (cluster ${spec.cluster}, ${pm}${spec.maintenance ? ', in maintenance' : ''}); ` +
      'not fenced before it has answered once',
    spec.id,
  );
}

export function hostRemove(c: Ctx, cmd: Extract<Command, { kind: 'host-remove' }>): void {
  const what = `host-remove ${cmd.host}`;
  const h = c.st.hosts[cmd.host];
  if (!h) return refused(c, what, cmd.by, 'no such host');
  const id = h.spec.id;
  if (h.status !== 'Maintenance')
    return refused(c, what, cmd.by, `the host is ${h.status}: put it in maintenance first`, id);
  const vms = [...new Set([...vmsOn(c, h), ...Object.keys(c.st.stops).filter((v) => c.st.stops[v]!.host === id)])];
  if (vms.length > 0) return refused(c, what, cmd.by, `it still runs ${vms.sort().join(', ')}`, id);
  // Stopped VMs homed there lose their home (they start wherever there is room).
  for (const vm of Object.values(c.st.vms))
    if (vm.owner === id) {
      Object.assign(vm, { owner: null, generation: vm.generation + 1 });
      c.actions.push({ kind: 'write-vm', vm: { ...vm } });
    }
  c.actions.push({ kind: 'write-host', host: id, state: null });
  delete c.st.hosts[id];
  delete c.st.haOps[id];
  c.st.polledSinceLeader = c.st.polledSinceLeader.filter((x) => x !== id);
  accepted(c, what, cmd.by, 'no longer watched; its record and fence intent are deleted', id);
}
