/** A former leader's account of how its term ended, entered in the audit trail by the leader that reads it. */
import type { Ctx } from './context.js';
import type { Command } from './types.js';

const ETCD_SAID = {
  refused: (e: number) => `etcd refused a transaction guarded by epoch ${e}`,
  held: (e: number) =>
    `etcd still applied a transaction guarded by epoch ${e} when asked (the lease had not run out yet); the replica gave the term up by its own deadline`,
} as const;

export function steppedDown(c: Ctx, cmd: Extract<Command, { kind: 'stepped-down' }>): void {
  const parts = [`${cmd.by} stepped down from epoch ${cmd.epoch}: ${cmd.reason}`, ETCD_SAID[cmd.etcd](cmd.epoch)];
  if (cmd.leader) parts.push(`etcd named ${cmd.leader.name} (epoch ${cmd.leader.epoch}) as leader`);
  parts.push(
    cmd.refused.length > 0
      ? `writes refused after the end: ${cmd.refused.join(', ')}`
      : 'it attempted no write after the end',
  );
  parts.push(cmd.cutOff.length > 0 ? `calls cut off: ${cmd.cutOff.join(', ')}` : 'no call of it was in flight');
  const text = `${parts.join('; ')} (entered by the leader of epoch ${c.st.epoch ?? '?'})`;
  c.log.push(text);
  c.audit.push({ at: c.now, kind: 'leadership', alert: true, text });
}
