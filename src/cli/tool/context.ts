import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, type Runner, type RunResult } from './runner.js';

/** What every verb works with: the root every path is under, the runner for system changes, and the output. */
export interface ToolContext {
  /** `/` on a host; a scratch directory in tests ($VDSM_TOOL_ROOT). */
  root: string;
  run: Runner;
  out(line: string): void;
  err(line: string): void;
}

/** A failure to report on stderr with exit code 1 (upstream's vdsm-tool exits 1 for every error). */
export class ToolError extends Error {
  override name = 'ToolError';
}

/** An absolute host path under the context's root. */
export const rooted = (ctx: Pick<ToolContext, 'root'>, path: string) =>
  ctx.root === '/' ? path : join(ctx.root, path);

/** systemd is the init system here: its runtime directory exists (what sd_booted() checks). */
export const systemdRunning = (ctx: ToolContext) => existsSync(rooted(ctx, '/run/systemd/system'));

/** Runs a command through the context's runner; a non-zero exit is a ToolError with its stderr. */
export async function runChecked(ctx: ToolContext, file: string, args: readonly string[]): Promise<RunResult> {
  const result = await ctx.run(file, args);
  if (result.code !== 0)
    throw new ToolError(`${commandLine(file, args)} failed (exit ${result.code}): ${result.stderr.trim()}`);
  return result;
}
