/**
 * Scenario tests of the hosted-engine core on simulated time: each folder under test/hosted-engine/scenarios
 * has the commands (`cmds`) and the expected event log (`expected`), compared line by line. The simulator
 * throws if the engine VM ever runs on two hosts. `UPDATE_SCENARIOS=1` rewrites the expected logs (review the diff).
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

describe('hosted-engine scenarios (simulated time)', () => {
  for (const name of readdirSync(ROOT).sort()) {
    it(name, () => {
      const dir = join(ROOT, name);
      const started = performance.now();
      const r = runScenario(dir);
      const ms = performance.now() - started;
      const file = join(dir, 'expected');
      if (process.env.UPDATE_SCENARIOS === '1' || !existsSync(file)) writeFileSync(file, `${r.log.join('\n')}\n`);
      const expected = readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(r.log).toEqual(expected);
      const outage = r.lost !== undefined && r.back !== undefined ? String(r.back - r.lost) : '-';
      figures.push(`${name.padEnd(24)} ${String(r.faultAt ?? '-').padStart(8)}  ${String(r.lost ?? '-').padStart(11)}  ${String(r.back ?? '-').padStart(13)}  ${outage.padStart(10)}   (${ms.toFixed(0)} ms real)`);
    });
  }
});
