/**
 * VMs shut down on their host (maintenance moves, `vm stop`) and hosted-engine local maintenance set or cleared
 * (docs/coordinator.md, "Maintenance"). What is wanted comes from the records at every step: a host in maintenance
 * runs no VM, a VM recorded stopped runs nowhere. So a new leader carries on where the last one stopped. A failure
 * is an alert and is tried again, bounded; never a power action.
 */
import { placeVm } from './cluster.js';
import type { Ctx } from './context.js';
import type { HaOp, VmStop } from './state.js';
import type { Result, VmRecord } from './types.js';
import { persistHost } from './host-state.js';
import { queueForRestart } from './vm-records.js';

type Placed = Record<string, { count: number; memMiB: number }>;

export function newStop(host: string, why: VmStop['why'], by: string | null, now: number): VmStop {
  return { host, why, by, awaiting: null, attempts: 0, nextAt: now, noRoom: false };
}

export function newHaOp(on: boolean, by: string | null, now: number, unlessSeen: boolean): HaOp {
  return { on, by, awaiting: null, attempts: 0, nextAt: now, done: false, unlessSeen };
}

/** After the hosts' moves: the VM shutdowns and HA maintenance calls that are wanted and due. */
export function maintain(c: Ctx): void {
  wantedStops(c);
  for (const id of Object.keys(c.st.haOps).sort()) sendHaOp(c, id);
  // A move needs every host's free memory, and a new leader's records may be older than its hosts' lists: both
  // come with the first poll round of this leadership.
  if (c.st.roundDoneAt === null) return;
  const placed = reserved(c);
  const vms = Object.values(c.st.vms).sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : 1));
  for (const vm of vms) {
    const s = c.st.stops[vm.id];
    if (s) sendStop(c, vm, s, placed);
  }
}

/** Drops what is no longer wanted (unless its answer is awaited) and finds what a former leader left undone. */
function wantedStops(c: Ctx): void {
  const { st } = c;
  for (const [id, s] of Object.entries(st.stops)) {
    const vm = st.vms[id];
    if (s.awaiting === null && (!vm || !stillWanted(c, vm, s))) delete st.stops[id];
  }
  for (const vm of Object.values(st.vms)) {
    if (st.stops[vm.id] || vm.owner === null) continue;
    const host = st.hosts[vm.owner];
    if (!host) continue;
    if (vm.state === 'running' && host.status === 'Maintenance')
      st.stops[vm.id] = newStop(vm.owner, 'move', null, c.now);
    else if (vm.state === 'stopped' && host.vmsSeen.includes(vm.id))
      st.stops[vm.id] = newStop(vm.owner, 'stop', null, c.now);
  }
}

function stillWanted(c: Ctx, vm: VmRecord, s: VmStop): boolean {
  if (vm.owner !== s.host) return false;
  if (s.why === 'stop') return vm.state === 'stopped';
  return vm.state === 'running' && c.st.hosts[s.host]?.status === 'Maintenance';
}

/** Memory other hosts have promised already: VMs being started there, and VMs queued to start (placed greedily). */
function reserved(c: Ctx): Placed {
  const placed: Placed = {};
  const take = (host: string, vm: VmRecord) => {
    const p = (placed[host] ??= { count: 0, memMiB: 0 });
    p.count += 1;
    p.memMiB += vm.memMiB;
  };
  const hosts = Object.values(c.st.hosts);
  for (const vm of Object.values(c.st.vms)) {
    if (vm.state === 'starting' && vm.owner !== null && !c.st.hosts[vm.owner]?.vmsSeen.includes(vm.id))
      take(vm.owner, vm);
    else if (vm.restart && vm.state !== 'starting' && vm.state !== 'running') {
      const to = placeVm(hosts, vm, placed);
      if (to !== null) take(to, vm);
    }
  }
  return placed;
}

function sendStop(c: Ctx, vm: VmRecord, s: VmStop, placed: Placed): void {
  if (s.awaiting !== null || c.now < s.nextAt) return;
  if (s.why === 'move') {
    // Shut down only what can start again elsewhere now: the engine's maintenance leaves a VM it cannot move.
    const to = placeVm(Object.values(c.st.hosts), vm, placed, [s.host]);
    if (to === null) {
      if (!s.noRoom)
        c.log.push(
          `${vm.id}: no other Up host has ${vm.memMiB} MiB free: it keeps running on ${s.host} ` +
            `(looked at again every ${c.cfg.retryShort} s)`,
        );
      s.noRoom = true;
      s.nextAt = c.now + c.cfg.retryShort;
      return;
    }
    s.noRoom = false;
    const p = (placed[to] ??= { count: 0, memMiB: 0 });
    p.count += 1;
    p.memMiB += vm.memMiB;
  }
  s.awaiting = ++c.st.seq;
  const why = s.why === 'move' ? 'maintenance: it starts again on another host' : `vm-stop${s.by ? ` by ${s.by}` : ''}`;
  c.log.push(`${vm.id}: VM.shutdown on ${s.host} (${why}${s.attempts > 0 ? `, try ${s.attempts + 1}` : ''})`);
  c.actions.push({ kind: 'stop-vm', id: s.awaiting, vm: vm.id, host: s.host });
}

export function stopDone(c: Ctx, r: Extract<Result, { kind: 'stop-vm' }>): void {
  const s = c.st.stops[r.vm];
  if (!s || s.awaiting !== r.id) return;
  s.awaiting = null;
  const vm = c.st.vms[r.vm];
  if (!r.ok) {
    s.attempts += 1;
    const again = s.attempts < c.cfg.opRetryCount ? c.cfg.opRetryAfter : c.cfg.opRetryLong;
    s.nextAt = c.now + again;
    return failed(
      c,
      r.host,
      `VM.shutdown of ${r.vm} on ${r.host} failed (${s.attempts} time(s)): tried again in ${again} s`,
    );
  }
  delete c.st.stops[r.vm];
  // Already settled by the host's own VM list (maintenance), or no longer wanted (vm start, removed): nothing to do.
  if (!vm || vm.owner !== r.host || (vm.state !== 'stopped' && vm.state !== 'running')) return;
  vm.generation += 1;
  if (vm.state === 'stopped') {
    // It keeps its host as its home (where `all` re-homes it from, should that host be fenced). The host no longer
    // runs it (the stop's answer says so): a list read before the stop must not start another shutdown.
    const host = c.st.hosts[r.host];
    if (host) host.vmsSeen = host.vmsSeen.filter((id) => id !== vm.id);
    const who = s.by ? ` by ${s.by}` : '';
    const text = `${vm.id} stopped on ${r.host} (vm-stop${who}): it stays stopped${vm.ha ? ', HA or not' : ''}`;
    c.log.push(text);
    c.audit.push({ at: c.now, host: r.host, kind: 'vm', alert: false, text });
  } else {
    queueForRestart(vm, r.host, c.now);
    c.log.push(`${vm.id} down on ${r.host} (maintenance): queued to start on another host`);
  }
  c.actions.push({ kind: 'write-vm', vm: { ...vm } });
}

function sendHaOp(c: Ctx, id: string): void {
  const op = c.st.haOps[id]!;
  const h = c.st.hosts[id];
  if (!h) {
    delete c.st.haOps[id];
    return;
  }
  // The host's HA is known from its stats (the first of a leadership come in its first poll round).
  if (op.done || op.awaiting !== null || c.now < op.nextAt || h.ha === null) return;
  if (!h.ha.configured) {
    delete c.st.haOps[id];
    if (!op.on) persistHost(c, h);
    return;
  }
  if (op.unlessSeen && h.ha.localMaintenance === op.on) {
    op.done = true;
    if (!op.on) persistHost(c, h);
    return;
  }
  op.awaiting = ++c.st.seq;
  c.log.push(`${id}: hosted-engine local maintenance ${op.on ? 'on' : 'off'} (Host.setHaMaintenanceMode)`);
  c.actions.push({ kind: 'set-ha-maintenance', id: op.awaiting, host: id, on: op.on });
}

export function haDone(c: Ctx, r: Extract<Result, { kind: 'set-ha-maintenance' }>): void {
  const op = c.st.haOps[r.host];
  if (!op || op.awaiting !== r.id) return;
  op.awaiting = null;
  if (r.ok) {
    op.done = true;
    c.log.push(`${r.host}: hosted-engine local maintenance is ${r.on ? 'on' : 'off'}`);
    const h = c.st.hosts[r.host];
    if (!op.on && h) persistHost(c, h); // the activation is complete: a new leader need not clear it again
    return;
  }
  op.attempts += 1;
  const again = op.attempts < c.cfg.opRetryCount ? c.cfg.opRetryAfter : c.cfg.opRetryLong;
  op.nextAt = c.now + again;
  failed(
    c,
    r.host,
    `Host.setHaMaintenanceMode local ${r.on ? 'on' : 'off'} on ${r.host} failed (${op.attempts} time(s)): ` +
      `tried again in ${again} s`,
  );
}

function failed(c: Ctx, host: string, text: string): void {
  c.log.push(`${host}: ${text}`);
  c.audit.push({ at: c.now, host, kind: 'alert', alert: true, text: `${text}; no power action` });
}
