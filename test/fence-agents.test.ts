/**
 * A built-in fence agent is its folder plugins/<agent>/ (index.ts the agent, cli.ts its executable) plus two
 * registrations: src/cli/fence-agents.ts (Host.fenceNode runs it) and package.json's bin (its executable and
 * aliases; the build links the aliases from there). Forgetting one breaks nothing at once, so it is checked here
 * (CONTRIBUTING.md, "Add a fence agent").
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_FENCE_AGENTS } from '../src/cli/fence-agents.js';
import { ROOT } from './support/paths.js';

const folders = readdirSync(join(ROOT, 'plugins'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('the built-in fence agents are registered everywhere', () => {
  it('every folder of plugins/ has index.ts and cli.ts', () => {
    const missing = folders.flatMap((f) =>
      ['index.ts', 'cli.ts']
        .filter((file) => !existsSync(join(ROOT, 'plugins', f, file)))
        .map((file) => `plugins/${f}/${file}`),
    );
    expect(missing).toEqual([]);
  });

  it('src/cli/fence-agents.ts lists the agent of every folder, named after its folder', () => {
    expect(BUILTIN_FENCE_AGENTS.map((a) => a.name).sort()).toEqual(folders);
  });

  it("package.json's bin has every agent and alias, each pointing at its agent's bundle", () => {
    const bin: Record<string, string> = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin;
    const fence = Object.fromEntries(Object.entries(bin).filter(([name]) => name.startsWith('fence_')));
    const expected = Object.fromEntries(
      BUILTIN_FENCE_AGENTS.flatMap((a) =>
        [a.name, ...(a.aliases ?? []).map((alias) => alias.name)].map((name) => [name, `dist/fence/${a.name}.js`]),
      ),
    );
    expect(fence).toEqual(expected);
  });
});
