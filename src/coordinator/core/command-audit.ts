/** How a command's outcome is told: one audit event naming who asked, and the same line in the step's log. */
import type { Ctx } from './context.js';

/** `what` names the command and its target ("maintenance on host1"); `host` files the event under that host. */
export function accepted(c: Ctx, what: string, by: string, text: string, host?: string, alert = false): void {
  const line = `${what} by ${by}: ${text}`;
  c.log.push(line);
  c.audit.push({ at: c.now, ...(host !== undefined ? { host } : {}), kind: 'command', alert, text: line });
}

export function refused(c: Ctx, what: string, by: string, why: string, host?: string): void {
  const line = `${what} by ${by} refused: ${why}`;
  c.log.push(line);
  c.audit.push({ at: c.now, ...(host !== undefined ? { host } : {}), kind: 'command', alert: false, text: line });
}
