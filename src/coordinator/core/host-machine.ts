/** The per-host state machine (docs/coordinator.md): one move per host per step. */
import { go, guardAudit, type Ctx } from './context.js';
import { detect } from './detection.js';
import { clusterGuard } from './guards.js';
import { hardFence } from './hard-fence.js';
import { softFence, treat } from './soft-fence.js';
import { backUp, skip } from './transitions.js';
import type { HostState } from './types.js';
import { recoverHost } from './vm-recovery.js';

const answered = (h: HostState) => h.failures === 0 && h.lastOk > h.since;

export function advanceHost(c: Ctx, h: HostState): void {
  const { now, cfg } = c;
  switch (h.status) {
    case 'Maintenance':
      return;
    case 'Up':
    case 'Suspect':
      return detect(c, h);
    case 'NonResponsive':
      if (h.failures === 0) return backUp(c, h, 'answers again');
      return treat(c, h);
    case 'FenceSkipped':
      if (h.failures === 0) return backUp(c, h, 'answers again');
      if (h.recheckAt !== null && now < h.recheckAt) return;
      if (h.flow?.step === 'policy-wait') {
        const g = clusterGuard(c, h);
        if (g) return skip(c, h, g.guard, g.text, 0);
        h.flow.step = 'status';
        h.flow.nextAt = now;
        h.guard = null;
        go(c, h, 'HardFencing', 'looking at the storage lease again');
        return hardFence(c, h);
      }
      return treat(c, h);
    case 'SoftFencing':
      if (h.failures === 0 && h.flow?.step !== 'soft-wait') return backUp(c, h, 'answers again: no fence needed');
      return softFence(c, h);
    case 'HardFencing':
      // A host that answers is not off, whatever its BMC says: abort (after an `off`, the BMC may be another box's).
      if (h.failures === 0 && h.lastOk > (h.flow?.startedAt ?? now)) {
        guardAudit(
          c,
          h,
          'answers',
          h.flow?.offSent
            ? "the host answers after `off` was sent: its BMC may not be this host's; nothing is restarted"
            : 'the host answers during its fence: aborted before any power action',
        );
        return backUp(c, h, 'answers during the fence: aborted');
      }
      return hardFence(c, h);
    case 'PowerOffConfirmed':
      // A new leader restores it from the intent; if the host answers by now it is back (rebooted, or its VMs never
      // stopped): what it runs is what it lists, and nothing is restarted from the intent alone.
      if (h.failures === 0) return backUp(c, h, 'answers again');
      return recoverHost(c, h);
    case 'RecoveringVMs': {
      // Back before its VMs are all placed (a short reboot): it is Up again and may take some of them.
      if (answered(h)) return backUp(c, h, 'answers again');
      const left = Object.values(c.st.vms).some((v) => v.from === h.spec.id && v.restart);
      if (left) return;
      if (h.rebootUntil !== null && now < h.rebootUntil)
        return go(c, h, 'Rebooting', 'VMs recovered; host powering on');
      return go(c, h, 'Down', 'VMs recovered');
    }
    case 'Rebooting':
      if (answered(h)) return backUp(c, h, 'answers after its reboot');
      if (h.rebootUntil === null || now >= h.rebootUntil) go(c, h, 'Down', `not back within ${cfg.rebootWindow} s`);
      return;
    case 'Down':
      if (answered(h)) return backUp(c, h, 'answers again');
      return;
    case 'FenceFailed':
      return go(c, h, 'AwaitingManualConfirm', 'waiting for the host or confirm-rebooted');
    case 'AwaitingManualConfirm':
      if (h.failures === 0) return backUp(c, h, 'answers again');
      return;
  }
}
