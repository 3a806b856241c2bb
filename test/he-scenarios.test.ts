/**
 * Scenario tests of the hosted-engine agent on simulated time: each folder under test/hosted-engine/scenarios
 * has the commands (`cmds`) and the expected event log (`expected`), compared line by line; every simulated
 * host runs the real HaAgent. The simulator throws if the engine VM ever runs on two hosts. Each scenario runs
 * again with the lease's arbitration off: then it must still never run twice, unless its cmds declare
 * `relies-on-lease`, and then it must run twice (the marker is checked, not trusted).
 * `UPDATE_SCENARIOS=1` writes the expected logs (read the diff before keeping it).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runScenario } from './hosted-engine/scenario.js';

const ROOT = join(import.meta.dirname, 'hosted-engine/scenarios');
const figures: string[] = [];

afterAll(() => {
  console.log(`scenario                 fault at  engine lost  healthy again  outage (s)\n${figures.join('\n')}`);
});

describe('hosted-engine scenarios (simulated time, the real agent)', () => {
  for (const name of readdirSync(ROOT).sort()) {
    const dir = join(ROOT, name);
    it(name, async () => {
      const started = performance.now();
      const r = await runScenario(dir);
      const ms = performance.now() - started;
      const file = join(dir, 'expected');
      if (process.env.UPDATE_SCENARIOS === '1') writeFileSync(file, `${r.log.join('\n')}\n`);
      else if (!existsSync(file))
        throw new Error(
          `${file} is missing: UPDATE_SCENARIOS=1 npx vitest run test/he-scenarios.test.ts -t ${name} writes it (read it before keeping it)`,
        );
      const expected = readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(r.log).toEqual(expected);
      const outage = r.lost !== undefined && r.back !== undefined ? String(r.back - r.lost) : '-';
      figures.push(
        `${name.padEnd(24)} ${String(r.faultAt ?? '-').padStart(8)}  ${String(r.lost ?? '-').padStart(11)}  ${String(r.back ?? '-').padStart(13)}  ${outage.padStart(10)}   (${ms.toFixed(0)} ms real)`,
      );
    });

    it(`${name}, lease arbitration off`, async () => {
      const reliesOnLease = /^\s*relies-on-lease\b/m.test(readFileSync(join(dir, 'cmds'), 'utf8'));
      const run = runScenario(dir, { arbitration: false });
      if (reliesOnLease) await expect(run).rejects.toThrow(/the engine VM runs on hosts \d+ and \d+/);
      else await expect(run).resolves.toMatchObject({ reliesOnLease: false });
    });
  }
});
