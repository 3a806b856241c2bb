import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { FenceAgent } from './agent.js';
import { renderMetadata } from './metadata.js';
import { buildTable } from './table.js';

type AgentModule = { default: FenceAgent<unknown> };

const agentShape = z.object({
  name: z.string().regex(/^fence_[a-z0-9_]+$/, 'must look like fence_<name>'),
  shortdesc: z.string().min(1),
  longdesc: z.string(),
  uses: z.array(z.string()),
  aliases: z.array(z.object({ name: z.string().regex(/^fence_[a-z0-9_]+$/), shortdesc: z.string() })).optional(),
  connect: z.function(),
  getPower: z.function(),
  setPower: z.function(),
});

export interface LoadReport {
  /** Every name an agent answers to (its own and its aliases) → the agent. */
  agents: Map<string, FenceAgent<unknown>>;
  /** Plugins that were refused, with why; never fatal. */
  rejected: { source: string; reason: string }[];
}

/** Checks a plugin before it may run: its shape, and that its option table and metadata can be built. */
export async function checkAgent(candidate: unknown): Promise<FenceAgent<unknown>> {
  const parsed = agentShape.safeParse(candidate);
  if (!parsed.success)
    throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || 'agent'}: ${i.message}`).join('; '));
  const agent = candidate as FenceAgent<unknown>;
  await renderMetadata(agent, buildTable(agent));
  return agent;
}

/**
 * Checks the built-in agents (the caller imports them: the framework knows no agent) and loads the drop-in plugins
 * (`*.js`/`*.mjs` default-exporting an agent) from `dropInDir`, each imported here when found.
 */
export async function loadAgents(builtins: readonly FenceAgent<unknown>[], dropInDir?: string): Promise<LoadReport> {
  const report: LoadReport = { agents: new Map(), rejected: [] };
  const add = async (source: string, candidate: unknown) => {
    try {
      const agent = await checkAgent(candidate);
      for (const name of [agent.name, ...(agent.aliases ?? []).map((a) => a.name)]) {
        if (report.agents.has(name)) throw new Error(`${name} is already provided by another plugin`);
      }
      for (const name of [agent.name, ...(agent.aliases ?? []).map((a) => a.name)]) report.agents.set(name, agent);
    } catch (err) {
      report.rejected.push({ source, reason: (err as Error).message });
    }
  };
  for (const agent of builtins) await add(agent.name, agent);
  if (dropInDir) {
    let files: string[] = [];
    try {
      files = (await readdir(dropInDir)).filter((f) => /\.m?js$/.test(f)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        report.rejected.push({ source: dropInDir, reason: (err as Error).message });
    }
    for (const file of files) {
      const source = join(dropInDir, file);
      try {
        await add(source, ((await import(pathToFileURL(source).href)) as Partial<AgentModule>).default);
      } catch (err) {
        report.rejected.push({ source, reason: `cannot load: ${(err as Error).message}` });
      }
    }
  }
  return report;
}
