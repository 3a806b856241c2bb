/** Action results (matched by id; a result the flow no longer waits for is stale and dropped). */
import { combinePower } from './cluster.js';
import type { Ctx } from './context.js';
import { hardPowerDone } from './hard-fence.js';
import { haDone, stopDone } from './maintenance.js';
import { sshDone, softStatusDone } from './soft-fence.js';
import type { Result } from './types.js';
import { scanDone } from './vm-recovery.js';
import { failedStart } from './vm-records.js';

export function takeResult(c: Ctx, r: Result): void {
  switch (r.kind) {
    case 'probe':
    case 'power':
    case 'ssh-restart': {
      const h = c.st.hosts[r.host];
      if (!h?.flow) return;
      if (r.kind === 'probe') {
        if (h.flow.step !== 'witness' || !h.flow.witnessesPending.includes(r.via)) return;
        h.flow.witnessesPending = h.flow.witnessesPending.filter((w) => w !== r.via);
        if (r.reached === true) h.flow.witnessReached = true;
        else if (r.reached === false) {
          h.flow.tries += 1;
          c.log.push(`${h.spec.id}: witness ${r.via} cannot reach it either`);
        } else c.log.push(`${h.spec.id}: witness ${r.via} did not answer`);
        return;
      }
      if (h.flow.awaiting !== r.id) return;
      h.flow.awaiting = null;
      if (r.kind === 'ssh-restart') sshDone(c, h, r.ok, r.detail);
      else if (h.status === 'SoftFencing') softStatusDone(c, h, r.proxy, combinePower(r.power));
      else hardPowerDone(c, h, r.op, r.proxy, combinePower(r.power));
      return;
    }
    case 'scan':
      if (c.st.scan?.id === r.id) scanDone(c, r.lists);
      return;
    case 'start-vm': {
      const vm = c.st.vms[r.vm];
      if (!vm || vm.state !== 'starting' || vm.owner !== r.host) return;
      if (!r.ok) failedStart(c, vm, `VM.create on ${r.host} failed${r.detail ? `: ${r.detail}` : ''}`);
      return;
    }
    case 'destroy-vm':
      if (r.why === 'stale')
        c.log.push(`${r.vm}: stale copy on ${r.host} ${r.ok ? 'destroyed' : 'not destroyed (will retry)'}`);
      else if (!r.ok) c.log.push(`${r.vm}: its Down entry on ${r.host} not cleared (tried again at the next poll)`);
      return;
    case 'stop-vm':
      return stopDone(c, r);
    case 'set-ha-maintenance':
      return haDone(c, r);
  }
}
