/** Polls (Host.ping2, Host.getStats with the VM list): what a host's answers tell the core. */
import { vmFate } from './cluster.js';
import { RUNNING, type Ctx } from './context.js';
import { persistHost } from './host-state.js';
import { NOT_IN_RECOVERY, type HaSeen, type HostState, type Poll, type VmRecord, type VmSeen } from './types.js';
import { failedStart, queueForRestart, settleRunning } from './vm-records.js';

/** Stats without `haStats`: hosted-engine HA is not configured there. */
const NO_HA: HaSeen = { configured: false, active: false, score: 0, localMaintenance: false, globalMaintenance: false };

export function takePoll(c: Ctx, poll: Poll): void {
  const h = c.st.hosts[poll.host];
  if (!h) return;
  if (!c.st.polledSinceLeader.includes(h.spec.id)) c.st.polledSinceLeader.push(h.spec.id);
  h.polledAt = c.now;
  if (poll.ok) {
    h.lastOk = c.now;
    h.failures = 0;
    h.lastError = null;
    if (!h.everUp) {
      h.everUp = true;
      persistHost(c, h); // a new leader must know it has been in service
    }
    if (poll.kind === 'stats') h.ha = poll.ha ?? NO_HA;
    if (poll.vms) {
      const present = poll.vms.filter((v) => v.status !== 'Down');
      const down = poll.vms.filter((v) => v.status === 'Down');
      h.vmsSeen = present.map((v) => v.id);
      h.vmCount = present.length;
      if (poll.freeMemMiB !== undefined) h.freeMemMiB = poll.freeMemMiB;
      reconcileVms(c, h, present);
      failedStarts(c, h, down);
      missingVms(c, h, present, down);
      clearDownEntries(c, h, down);
    }
    return;
  }
  // A fenced host's reboot window: its network errors are expected (oVirt's bug: fenced again while booting).
  if (h.rebootUntil !== null && c.now < h.rebootUntil) return;
  h.failures += 1;
  h.lastError = poll.error ?? 'timeout';
}

/**
 * A host listed its VMs: confirm starts, adopt, or find stale copies of VMs that now run elsewhere. A VM recorded
 * stopped that its host still runs is being shut down (maintenance.ts), not adopted.
 */
function reconcileVms(c: Ctx, h: HostState, present: readonly { id: string; status: string }[]): void {
  for (const seen of present) {
    const vm = c.st.vms[seen.id];
    if (!vm) continue;
    const running = RUNNING.includes(seen.status);
    if (vm.owner === h.spec.id) {
      // A start is confirmed once its QEMU runs: launching, it may still fail (and be listed Down with an error).
      if (vm.state === 'starting' && seen.status === 'WaitForLaunch') continue;
      if (running && vm.state !== 'running' && vm.state !== 'stopped') {
        if (vm.state === 'starting') c.log.push(`${vm.id} Up on ${h.spec.id}`);
        if (vm.from !== null)
          c.audit.push({
            at: c.now,
            host: h.spec.id,
            kind: 'vm',
            alert: false,
            text: `${vm.id} Up on ${h.spec.id}, restarted after ${vm.from} was fenced (${vm.attempts + 1} ${vm.attempts ? 'tries' : 'try'})`,
          });
        settleRunning(c, vm, h.spec.id);
      }
      continue;
    }
    const owner = vm.owner ? c.st.hosts[vm.owner] : undefined;
    if (owner && (vm.state === 'running' || vm.state === 'starting') && owner.status === 'Up') {
      c.log.push(`${vm.id}: stale copy on ${h.spec.id} (it runs on ${owner.spec.id}): destroying it`);
      c.audit.push({
        at: c.now,
        host: h.spec.id,
        kind: 'vm',
        alert: true,
        text: `${vm.id} found on ${h.spec.id} while it runs on ${owner.spec.id}: stale copy destroyed`,
      });
      c.actions.push({ kind: 'destroy-vm', id: ++c.st.seq, vm: vm.id, host: h.spec.id, why: 'stale' });
    } else if (running && vm.restart && vm.state !== 'starting') {
      c.log.push(`${vm.id} found running on ${h.spec.id}: adopted, not started again`);
      settleRunning(c, vm, h.spec.id);
    }
  }
}

/**
 * VMs the store says run on this host but which it no longer lists running (it rebooted, or they crashed): the host
 * itself says they are not there, so they are Down and recovered like a fenced host's (no second copy can exist). On
 * a host in maintenance every such VM starts again elsewhere: it was moved (shut down), whatever its HA flag. One the
 * host lists Down with an error crashed on a host that lives: the evacuation policy is for hosts that fail, so an HA
 * VM is restarted and any other is in error (where `all` moves it, should this host be fenced later).
 */
function missingVms(c: Ctx, h: HostState, present: readonly VmSeen[], down: readonly VmSeen[]): void {
  for (const vm of Object.values(c.st.vms)) {
    if (vm.owner !== h.spec.id || (vm.state !== 'running' && vm.state !== 'unknown')) continue;
    if (present.some((p) => p.id === vm.id)) continue;
    const moved = h.status === 'Maintenance';
    const error = down.find((d) => d.id === vm.id)?.error;
    const fate =
      moved || (error !== undefined && vm.ha)
        ? 'restart'
        : error !== undefined
          ? 'error'
          : vmFate(vm, h.spec.cluster, c.cfg);
    vm.generation += 1;
    if (fate === 'restart') {
      queueForRestart(vm, h.spec.id, c.now);
      c.log.push(
        moved
          ? `${vm.id} no longer on ${h.spec.id} (maintenance): queued to start on another host`
          : error !== undefined
            ? `${vm.id} Down on ${h.spec.id} with an error (${error}): queued for restart`
            : `${vm.id} no longer on ${h.spec.id}: Down; queued for restart`,
      );
    } else if (fate === 'error') {
      Object.assign(vm, { state: 'error', restart: false } satisfies Partial<VmRecord>);
      vmAlert(c, h, `${vm.id} Down on ${h.spec.id} with an error (${error}): in error`);
    } else {
      Object.assign(vm, { state: 'down', restart: false } satisfies Partial<VmRecord>);
      c.log.push(`${vm.id} no longer on ${h.spec.id}: Down`);
    }
    c.actions.push({ kind: 'write-vm', vm: { ...vm } });
  }
}

/** A VM event a person must hear of: logged, and an alert in the audit trail. */
function vmAlert(c: Ctx, h: HostState, text: string): void {
  c.log.push(text);
  c.audit.push({ at: c.now, host: h.spec.id, kind: 'vm', alert: true, text });
}

/**
 * Starts the host reports failed: the VM Down there with an error before it was Up. Recovery's and HA starts are
 * tried again (vm-records.ts); a person's start of a VM that is not HA was tried as asked: it is in error on that
 * host, not tried elsewhere, until a person starts it again.
 */
function failedStarts(c: Ctx, h: HostState, down: readonly VmSeen[]): void {
  for (const d of down) {
    const vm = c.st.vms[d.id];
    if (d.error === undefined || !vm || vm.owner !== h.spec.id || vm.state !== 'starting') continue;
    if (vm.ha || vm.from !== null) {
      failedStart(c, vm, `${h.spec.id} reports its start failed: ${d.error}`);
      continue;
    }
    Object.assign(vm, {
      state: 'error',
      generation: vm.generation + 1,
      ...NOT_IN_RECOVERY,
    } satisfies Partial<VmRecord>);
    vmAlert(c, h, `${vm.id} did not start on ${h.spec.id} (${d.error}): in error, not tried again`);
    c.actions.push({ kind: 'write-vm', vm: { ...vm } });
  }
}

/**
 * vdsm lists a Down VM until it is destroyed (the engine destroys it once it has read the exit): so do we for the
 * VMs we know, or that host could never take them again ("Virtual machine already exists"). A start still waiting
 * for its answer is left to the start's own bound.
 */
function clearDownEntries(c: Ctx, h: HostState, down: readonly VmSeen[]): void {
  for (const d of down) {
    const vm = c.st.vms[d.id];
    if (!vm || (vm.owner === h.spec.id && vm.state === 'starting')) continue;
    c.actions.push({ kind: 'destroy-vm', id: ++c.st.seq, vm: vm.id, host: h.spec.id, why: 'down' });
  }
}
