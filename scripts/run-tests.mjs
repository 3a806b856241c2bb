#!/usr/bin/env node
/**
 * npm test's runner: two vitest processes at once (vitest.config.ts has the projects),
 *   light = the unit and peers projects, LIGHT_WORKERS files at a time;
 *   heavy = QEMU, libvirtd, sanlock and the cluster test bed, HEAVY_WORKERS files at a time,
 * so that at most HEAVY_WORKERS machine-loading files run together (vitest 3 has one worker limit per process, not
 * per project). Each output line is prefixed with its process's name; at the end one closing line sums both
 * ("vitest: N passed, N failed, N skipped", from test/support/summary-reporter.ts's counts). Exits non-zero if
 * either process does or anything failed (under VDSM_TS_NO_SKIP a skip counts as failed).
 * Arguments go to both processes (e.g. `-t pattern`); to run some files, use `npx vitest run FILES` instead.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIGHT_WORKERS = process.env.VDSM_TS_LIGHT_WORKERS ?? '3';
const HEAVY_WORKERS = process.env.VDSM_TS_HEAVY_WORKERS ?? '2';
const VITEST = join(ROOT, 'node_modules/vitest/vitest.mjs');
const summaries = mkdtempSync(join(tmpdir(), 'vdsm-ts-summary-'));

// The heavy files emulate whole clusters on this machine: their daemons (sanlock, QEMU, the agents) and their safety
// samplers keep time, and a sampler starved for a second fails closed ("could not tell" is never "fine"). As root
// they run at a higher CPU priority (nice -5, inherited by every process they start) than the light files, which
// only wait longer when the machine is busy.
const HEAVY_NICE = process.getuid?.() === 0 ? ['nice', '-n', '-5'] : [];

const runs = [
  { name: 'heavy', nice: HEAVY_NICE, args: ['--project', 'heavy', '--maxWorkers', HEAVY_WORKERS] },
  { name: 'light', nice: [], args: ['--project', 'unit', '--project', 'peers', '--maxWorkers', LIGHT_WORKERS] },
].map(({ name, nice, args }) => {
  const summary = join(summaries, `${name}.json`);
  const [file, ...pre] = [...nice, process.execPath];
  const child = spawn(file, [...pre, VITEST, 'run', ...args, ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      VDSM_TS_SUMMARY_FILE: summary,
      VDSM_TS_SUMMARY_NAME: name,
      ...(process.stdout.isTTY ? { FORCE_COLOR: '1' } : {}),
    },
  });
  const prefix = `[${name}] `;
  for (const [from, to] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    let partial = '';
    from.setEncoding('utf8');
    from.on('data', (d) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop();
      if (lines.length) to.write(lines.map((l) => prefix + l).join('\n') + '\n');
    });
    from.on('end', () => partial && to.write(prefix + partial + '\n'));
  }
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  return { name, child, summary, done };
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const { child } of runs) child.kill(sig);
  });
}

const codes = await Promise.all(runs.map((r) => r.done));
const total = { passed: 0, failed: 0, skipped: 0 };
let exit = 0;
runs.forEach(({ name, summary }, i) => {
  let counts;
  try {
    counts = JSON.parse(readFileSync(summary, 'utf8'));
  } catch {
    process.stdout.write(`\n${name}: vitest exited ${codes[i]} without a summary\n`);
    counts = { passed: 0, failed: 1, skipped: 0 };
  }
  for (const k of Object.keys(total)) total[k] += counts[k];
  if (codes[i] !== 0) exit = 1;
});
rmSync(summaries, { recursive: true, force: true });
if (total.failed > 0) exit = 1;
process.stdout.write(`\nvitest: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
process.exit(exit);
