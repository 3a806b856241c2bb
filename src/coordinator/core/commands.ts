/** Operator commands, applied by the leader's core: each one is an audit event naming who asked; a refusal says why. */
import { refused } from './command-audit.js';
import { go, type Ctx } from './context.js';
import { hostAdd, hostRemove, maintenance } from './host-commands.js';
import { steppedDown } from './stepped-down.js';
import type { Command, HostStatus } from './types.js';
import { vmDefine, vmRemove, vmStart, vmStop } from './vm-commands.js';

export function command(c: Ctx, cmd: Command): void {
  switch (cmd.kind) {
    case 'confirm-rebooted':
      return confirmRebooted(c, cmd);
    case 'maintenance':
      return maintenance(c, cmd);
    case 'host-add':
      return hostAdd(c, cmd);
    case 'host-remove':
      return hostRemove(c, cmd);
    case 'vm-define':
      return vmDefine(c, cmd);
    case 'vm-start':
      return vmStart(c, cmd);
    case 'vm-stop':
      return vmStop(c, cmd);
    case 'vm-remove':
      return vmRemove(c, cmd);
    case 'stepped-down':
      return steppedDown(c, cmd);
  }
}

function confirmRebooted(c: Ctx, cmd: Extract<Command, { kind: 'confirm-rebooted' }>): void {
  const h = c.st.hosts[cmd.host];
  if (!h) return refused(c, `confirm-rebooted ${cmd.host}`, cmd.by, 'no such host');
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
}
