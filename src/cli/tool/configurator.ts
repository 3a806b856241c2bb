import { ToolError, type ToolContext } from './context.js';
import { selectModules, type ToolModule } from './modules/index.js';
import { restartUnits, unitActive } from './services.js';

/** Modules with what is not configured about each; the configured ones are left out. */
async function unconfigured(ctx: ToolContext, modules: ToolModule[]) {
  const found: { module: ToolModule; problems: string[] }[] = [];
  for (const module of modules) {
    const problems = await module.check(ctx);
    if (problems.length) found.push({ module, problems });
  }
  return found;
}

function requireRoot(ctx: ToolContext): void {
  if (ctx.root === '/' && process.getuid?.() !== 0) throw new ToolError('must run as root');
}

/**
 * configure: each selected module that is not configured is configured. A unit that reads what it writes only at
 * start (vdsmd, libvirtd) must not be running, unless --force: then it is restarted once everything is written.
 */
export async function configure(ctx: ToolContext, names: string[] | undefined, force: boolean): Promise<number> {
  requireRoot(ctx);
  const todo = await unconfigured(ctx, selectModules(names));
  for (const m of selectModules(names)) if (!todo.some((t) => t.module === m)) ctx.out(`${m.name}: already configured`);
  if (todo.length === 0) return 0;
  // vdsmd last: it connects to libvirt as it starts.
  const units = [...new Set(todo.flatMap((t) => t.module.services))].sort(
    (a, b) => Number(a === 'vdsmd') - Number(b === 'vdsmd'),
  );
  const active: string[] = [];
  for (const unit of units) if (await unitActive(ctx, unit)) active.push(unit);
  if (active.length && !force)
    throw new ToolError(
      `cannot configure ${todo.map((t) => t.module.name).join(', ')} while ${active.join(', ')} ` +
        `${active.length > 1 ? 'are' : 'is'} running: stop ${active.length > 1 ? 'them' : 'it'}, or use --force ` +
        `(configure, then restart ${active.length > 1 ? 'them' : 'it'})`,
    );
  const failed: string[] = [];
  for (const { module } of todo) {
    // One module that cannot be configured (a certificate without its key) does not keep the others from it.
    try {
      for (const line of await module.configure(ctx)) ctx.out(`${module.name}: ${line}`);
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      ctx.err(`${module.name}: ${err.message}`);
    }
    const left = await module.check(ctx);
    if (left.length) {
      failed.push(module.name);
      for (const p of left) ctx.err(`${module.name}: still not configured: ${p}`);
    } else ctx.out(`${module.name}: configured`);
  }
  await restartUnits(ctx, active);
  if (failed.length) throw new ToolError(`configure could not finish ${failed.join(', ')}`);
  return 0;
}

/** is-configured: 0 when every selected module is, else 1 with what is missing. */
export async function isConfigured(ctx: ToolContext, names: string[] | undefined): Promise<number> {
  const todo = await unconfigured(ctx, selectModules(names));
  for (const { module, problems } of todo) for (const p of problems) ctx.out(`${module.name}: ${p}`);
  if (todo.length === 0) {
    ctx.out(
      `configured: ${selectModules(names)
        .map((m) => m.name)
        .join(', ')}`,
    );
    return 0;
  }
  ctx.err(
    `modules ${todo.map((t) => t.module.name).join(', ')} are not configured: run 'vdsm-tool configure` +
      `${todo.map((t) => ` --module ${t.module.name}`).join('')}' (--force while their services run)`,
  );
  return 1;
}

/** remove-config: takes our sections out of the selected modules' files; running it again changes nothing. */
export async function removeConfig(ctx: ToolContext, names: string[] | undefined): Promise<number> {
  requireRoot(ctx);
  for (const module of selectModules(names)) {
    const done = await module.remove(ctx);
    for (const line of done) ctx.out(`${module.name}: ${line}`);
    if (done.length === 0) ctx.out(`${module.name}: nothing to remove`);
  }
  return 0;
}
