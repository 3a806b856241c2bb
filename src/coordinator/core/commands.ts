/** Operator commands, applied by the leader's core (every one is an audit event naming who asked). */
import { FENCE_STATES, go, type Ctx } from './context.js';
import type { Command, HostStatus } from './types.js';

export function command(c: Ctx, cmd: Command): void {
  if (cmd.kind !== 'confirm-rebooted' && cmd.kind !== 'maintenance') {
    // TODO(issue 13): inventory commands (host-add/remove, vm-define/start/stop/remove).
    c.audit.push({ at: c.now, kind: 'command', alert: false, text: `${cmd.kind} by ${cmd.by}: not implemented yet` });
    return;
  }
  const h = c.st.hosts[cmd.host];
  if (!h) {
    c.audit.push({ at: c.now, kind: 'command', alert: false, text: `${cmd.kind} ${cmd.host}: no such host` });
    return;
  }
  switch (cmd.kind) {
    case 'confirm-rebooted': {
      const ok: readonly HostStatus[] = ['NonResponsive', 'FenceFailed', 'AwaitingManualConfirm'];
      if (!ok.includes(h.status)) {
        c.audit.push({
          at: c.now,
          host: h.spec.id,
          kind: 'command',
          alert: false,
          text: `confirm-rebooted by ${cmd.by} refused: host is ${h.status} (only NonResponsive or a failed fence)`,
        });
        c.log.push(`${h.spec.id}: confirm-rebooted by ${cmd.by} refused (${h.status})`);
        return;
      }
      h.manual = { by: cmd.by, at: c.now };
      c.audit.push({
        at: c.now,
        host: h.spec.id,
        kind: 'command',
        alert: true,
        text: `${cmd.by} confirmed the host was rebooted: its VMs are restarted elsewhere (if it still runs them, they run twice)`,
      });
      c.actions.push({
        kind: 'write-fence',
        host: h.spec.id,
        intent: { phase: 'off-confirmed', startedAt: h.flow?.startedAt ?? c.now, manual: h.manual },
      });
      h.flow = null;
      go(c, h, 'PowerOffConfirmed', `confirmed rebooted by ${cmd.by}`);
      return;
    }
    case 'maintenance':
      if (cmd.on) {
        if (FENCE_STATES.includes(h.status) && h.status !== 'NonResponsive') {
          c.log.push(`${h.spec.id}: maintenance refused during ${h.status}`);
          return;
        }
        h.flow = null;
        go(c, h, 'Maintenance', 'maintenance on');
      } else if (h.status === 'Maintenance') {
        h.lastOk = c.now;
        h.failures = 0;
        go(c, h, 'Up', 'maintenance off');
      }
      return;
  }
}
