import { commandLine } from './runner.js';
import { systemdRunning, ToolError, type ToolContext } from './context.js';

/** The units service-* acts on: ours only (upstream's tool takes any service), by the names the RPM installs them. */
export const SERVICE_UNITS: Readonly<Record<string, string>> = {
  vdsmd: 'vdsmd.service',
  'ovirt-ha-broker': 'ovirt-ha-broker.service',
  'ovirt-ha-agent': 'ovirt-ha-agent.service',
  'vdsm-ts-coordinator': 'vdsm-ts-coordinator.service',
};

export const SERVICE_VERBS = ['start', 'stop', 'restart', 'status'] as const;
export type ServiceVerb = (typeof SERVICE_VERBS)[number];

function requireSystemd(ctx: ToolContext, what: string): void {
  if (!systemdRunning(ctx))
    throw new ToolError(`cannot ${what}: systemd is not running on this host (no /run/systemd/system)`);
}

/** Whether a unit is active; false without systemd (nothing can be running as a unit then). */
export async function unitActive(ctx: ToolContext, unit: string): Promise<boolean> {
  if (!systemdRunning(ctx)) return false;
  return (await ctx.run('systemctl', ['is-active', '--quiet', unit])).code === 0;
}

/** service-start|stop|restart|status NAME: the exit code (status: 0 when active, systemctl's code otherwise). */
export async function serviceVerb(ctx: ToolContext, verb: ServiceVerb, name: string): Promise<number> {
  const unit = SERVICE_UNITS[name];
  if (!unit) throw new ToolError(`unknown service '${name}' (services: ${Object.keys(SERVICE_UNITS).join(', ')})`);
  requireSystemd(ctx, `${verb} ${name}`);
  if (verb === 'status') {
    const r = await ctx.run('systemctl', ['is-active', unit]);
    ctx.out(`${name}: ${r.stdout.trim() || 'unknown'}`);
    return r.code === 0 ? 0 : r.code > 0 ? r.code : 1;
  }
  const args = [verb, unit];
  const r = await ctx.run('systemctl', args);
  if (r.code !== 0)
    throw new ToolError(`${commandLine('systemctl', args)} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return 0;
}

/** Restarts units configure changed the files of (after --force), in order. */
export async function restartUnits(ctx: ToolContext, units: readonly string[]): Promise<void> {
  for (const unit of units) {
    requireSystemd(ctx, `restart ${unit}`);
    const r = await ctx.run('systemctl', ['restart', unit]);
    if (r.code !== 0) throw new ToolError(`systemctl restart ${unit} failed (exit ${r.code}): ${r.stderr.trim()}`);
    ctx.out(`${unit} restarted`);
  }
}
