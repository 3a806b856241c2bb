/**
 * Detection: Up -> Suspect at the first failed poll; NonResponsive only on BOTH enough failures AND the grace. A host
 * added at runtime that has never answered stays Suspect: it is not fenced (a wrong address is not a dead host).
 */
import { graceSeconds } from './config.js';
import { go, type Ctx } from './context.js';
import { treat } from './soft-fence.js';
import type { HostState } from './types.js';

export function detect(c: Ctx, h: HostState): void {
  const { now, cfg } = c;
  switch (h.status) {
    case 'Up':
      if (h.failures > 0) {
        go(c, h, 'Suspect', `no answer (${h.lastError ?? 'error'})`);
        if (!h.everUp) neverAnswered(c, h);
      }
      return;
    case 'Suspect': {
      if (h.failures === 0) return go(c, h, 'Up', 'answers again');
      if (!h.everUp) return;
      const grace = graceSeconds(cfg, h.vmCount);
      // Both, never either: oVirt once fenced after 20 s because one of the two sufficed.
      if (h.failures >= cfg.failuresForNonResponsive && now - h.lastOk >= grace) {
        go(
          c,
          h,
          'NonResponsive',
          `${h.failures} failed polls and ${Number((now - h.lastOk).toFixed(1))} s without an answer (grace ${grace} s)`,
        );
        for (const vm of Object.values(c.st.vms))
          if (vm.owner === h.spec.id && (vm.state === 'running' || vm.state === 'starting')) {
            vm.state = 'unknown';
            c.actions.push({ kind: 'write-vm', vm: { ...vm } });
          }
        treat(c, h);
      }
      return;
    }
    default:
      return;
  }
}

function neverAnswered(c: Ctx, h: HostState): void {
  const text = 'has not answered since it was added: it is not fenced before it has answered once';
  c.log.push(`${h.spec.id}: ${text}`);
  c.audit.push({ at: c.now, host: h.spec.id, kind: 'alert', alert: true, text });
}
