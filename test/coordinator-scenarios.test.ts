/**
 * Scenario tests of the HA coordinator on simulated time: each folder under test/coordinator/scenarios has the
 * commands (`cmds`), what oVirt / Masakari do and what we do (`README.md`), and the expected event log
 * (`expected`), compared line by line. The real driver and core run through the simulated CoordinatorEnv; the
 * simulator records every invariant broken (no VM on two hosts, no start without OFF confirmed or a person's
 * confirmation, no power action under the partition guard, no side effect from a stale leader).
 * `UPDATE_COORD_SCENARIOS=1` writes the expected logs (read them line by line before keeping them).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCoordScenario } from './coordinator/scenario.js';

const ROOT = join(import.meta.dirname, 'coordinator/scenarios');

describe('coordinator scenarios (simulated time, the real core and driver)', () => {
  for (const name of readdirSync(ROOT).sort()) {
    const dir = join(ROOT, name);
    it(name, async () => {
      expect(existsSync(join(dir, 'README.md')), `${name}/README.md`).toBe(true);
      const r = await runCoordScenario(dir);
      const file = join(dir, 'expected');
      if (process.env.UPDATE_COORD_SCENARIOS === '1') writeFileSync(file, `${r.log.join('\n')}\n`);
      else if (!existsSync(file))
        throw new Error(
          `${file} is missing: UPDATE_COORD_SCENARIOS=1 npx vitest run test/coordinator-scenarios.test.ts -t ${name} writes it (read it before keeping it)`,
        );
      expect(r.violations).toEqual([]);
      expect(r.log).toEqual(readFileSync(file, 'utf8').trimEnd().split('\n'));
    });
  }
});
