/** VM recovery: a host confirmed off, the queue by priority, one scan of every reachable host, placement, starts. */
import { agentGroups, chooseProxy, dueStarts, placeVm, vmFate } from './cluster.js';
import { go, guardAudit, RUNNING, type Ctx } from './context.js';
import { powerGuard } from './guards.js';
import type { HostState, VmRecord } from './types.js';
import { failedStart, queueForRestart, settleRunning } from './vm-records.js';

/** OFF is confirmed (or a person confirmed the reboot): every VM of the host is Down; some come back. */
export function recoverHost(c: Ctx, h: HostState): void {
  const { now, cfg } = c;
  for (const vm of Object.values(c.st.vms)) {
    if (vm.owner !== h.spec.id) continue;
    const fate = vmFate(vm, h.spec.cluster, cfg);
    const wasState = vm.state;
    vm.owner = null;
    vm.generation += 1;
    switch (fate) {
      case 'restart':
        queueForRestart(vm, h.spec.id, now);
        c.log.push(`${vm.id} Down (host fenced); queued for restart (priority ${vm.priority})`);
        break;
      case 'rehome': {
        const target = placeVm(Object.values(c.st.hosts), { ...vm, memMiB: 0 }, {}, [h.spec.id]);
        vm.owner = target;
        vm.state = wasState;
        c.log.push(`${vm.id} ${wasState}: re-homed to ${target ?? 'no host'}, not started`);
        break;
      }
      case 'mark-down':
        if (wasState === 'stopped') {
          // A person stopped it: it stays stopped, on no host.
          c.log.push(`${vm.id} stopped: its home ${h.spec.id} fenced; it stays stopped, on no host`);
          break;
        }
        vm.state = 'down';
        vm.restart = false;
        c.log.push(`${vm.id} Down (host fenced); not restarted`);
        c.audit.push({
          at: now,
          host: h.spec.id,
          kind: 'vm',
          alert: false,
          text: `${vm.id} Down with ${h.spec.id}: not HA, not restarted`,
        });
        break;
    }
    c.actions.push({ kind: 'write-vm', vm: { ...vm } });
  }
  if (cfg.powerOnAfterFence && h.manual === null && h.spec.agents.length > 0) {
    const g = powerGuard(c, h);
    const proxy = chooseProxy(Object.values(c.st.hosts), h, h.flow?.tried ?? [], now, cfg);
    if (g) guardAudit(c, h, g.guard, `${g.text} (power on skipped)`);
    else if (proxy !== null) {
      c.log.push(`${h.spec.id}: power on through ${proxy}`);
      h.lastPowerAt = now;
      h.rebootUntil = now + cfg.rebootWindow;
      c.actions.push({
        kind: 'power',
        id: ++c.st.seq,
        host: h.spec.id,
        proxy,
        op: 'on',
        agents: agentGroups(h.spec.agents)[0] ?? [],
      });
    }
  }
  h.flow = null;
  go(c, h, 'RecoveringVMs', 'VMs marked Down');
}

export function recoverVms(c: Ctx): void {
  const { now, cfg, st } = c;
  for (const vm of Object.values(st.vms))
    if (vm.state === 'starting' && vm.startSentAt !== null && now - vm.startSentAt >= cfg.startConfirmWithin) {
      // Failed only if its host answers without listing it: a silent host may run it (its own fate decides).
      const target = vm.owner === null ? undefined : st.hosts[vm.owner];
      if (!target || (target.failures === 0 && !target.vmsSeen.includes(vm.id)))
        failedStart(c, vm, `not Up within ${cfg.startConfirmWithin} s`);
    }
  if (st.scan !== null && now - st.scan.at > cfg.statsInterval) st.scan = null; // lost: ask again
  // Placement needs every host's free memory: the first stats of this leadership come in the first poll round.
  if (st.scan !== null || st.roundDoneAt === null) return;
  if (dueStarts(Object.values(st.vms), now, cfg).length === 0) return;
  // Hosts in maintenance are read too: one may still run a VM it is shutting down.
  const hosts = Object.values(st.hosts)
    .filter((h) => h.status === 'Up' || (h.status === 'Maintenance' && h.failures === 0))
    .map((h) => h.spec.id)
    .sort();
  st.scan = { id: ++st.seq, at: now };
  c.actions.push({ kind: 'scan', id: st.scan.id, hosts });
}

/**
 * Every reachable host listed its VMs: a queued VM found running anywhere is adopted; one recorded `starting` on
 * a host that did not answer is left alone (it may run there); the others are placed and started, by priority.
 */
export function scanDone(c: Ctx, lists: Record<string, { id: string; status: string }[] | null>): void {
  const { now, cfg, st } = c;
  st.scan = null;
  const placed: Record<string, { count: number; memMiB: number }> = {};
  const inFlight: Record<string, number> = {};
  for (const vm of Object.values(st.vms))
    if (vm.state === 'starting' && vm.startSentAt !== null && vm.owner !== null)
      inFlight[vm.owner] = (inFlight[vm.owner] ?? 0) + 1;
  const busy = (host: string) => (inFlight[host] ?? 0) >= cfg.startsInFlightPerHost;
  for (const vm of dueStarts(Object.values(st.vms), now, cfg)) {
    const where = Object.entries(lists).find(([, l]) => l?.some((v) => v.id === vm.id && RUNNING.includes(v.status)));
    if (where) {
      c.log.push(`${vm.id} found running on ${where[0]}: adopted, not started again`);
      settleRunning(c, vm, where[0]);
      continue;
    }
    // Recorded `starting` (or `unknown`) on a host: it may run there unless that host listed its VMs without it.
    // A host that did not answer, or was not even asked (not Up), says nothing: the VM is not started elsewhere yet.
    const mayRunOn = vm.owner !== null && (vm.state === 'starting' || vm.state === 'unknown') ? vm.owner : null;
    if (mayRunOn !== null && !lists[mayRunOn]) {
      c.log.push(`${vm.id}: ${mayRunOn} did not list its VMs: not starting it elsewhere yet`);
      vm.nextTryAt = now + cfg.retryShort;
      continue;
    }
    const listed = Object.values(st.hosts).filter((h) => lists[h.spec.id] !== undefined && lists[h.spec.id] !== null);
    const hosts = listed.filter((h) => !busy(h.spec.id));
    const pinnedBusy =
      vm.owner !== null && mayRunOn === null && busy(vm.owner) && listed.some((h) => h.spec.id === vm.owner);
    if ((hosts.length === 0 && listed.length > 0) || pinnedBusy) {
      // Every host that could take it has its fill of starts in flight: the next scan, once some are Up.
      vm.nextTryAt = now + cfg.pingInterval;
      continue;
    }
    // The host it comes from is excluded while it is not Up (placeVm takes Up hosts only); once back, it may.
    // A queued VM that names a host (vm-start on HOST: stopped, down or error) goes there if it still can, or anywhere.
    const pin = vm.owner !== null && mayRunOn === null ? vm.owner : null;
    let target = placeVm(pin === null ? hosts : hosts.filter((h) => h.spec.id === pin), vm, placed);
    if (pin !== null && target === null) {
      c.log.push(`${vm.id}: ${pin} cannot take it now: placed like a recovered VM`);
      vm.owner = null;
      target = placeVm(hosts, vm, placed);
    }
    if (target === null) {
      // Not a failed start: nothing was tried. Looked at again every short interval, without escalating to the
      // long one (a host coming back, or another VM leaving, makes room).
      if (vm.nextTryAt !== null && vm.attempts === 0 && vm.queuedAt === vm.nextTryAt)
        c.log.push(`${vm.id}: no Up host with ${vm.memMiB} MiB free; looking again every ${cfg.retryShort} s`);
      vm.nextTryAt = now + cfg.retryShort;
      continue;
    }
    const p = (placed[target] ??= { count: 0, memMiB: 0 });
    p.count += 1;
    p.memMiB += vm.memMiB;
    inFlight[target] = (inFlight[target] ?? 0) + 1;
    Object.assign(vm, {
      owner: target,
      state: 'starting',
      startSentAt: now,
      generation: vm.generation + 1,
    } satisfies Partial<VmRecord>);
    c.log.push(`${vm.id}: VM.create on ${target} (priority ${vm.priority}, try ${vm.attempts + 1})`);
    c.actions.push({ kind: 'write-vm', vm: { ...vm } });
    c.actions.push({ kind: 'start-vm', id: ++st.seq, vm: vm.id, host: target });
  }
}
