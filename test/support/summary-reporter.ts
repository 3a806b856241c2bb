import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';
import { NO_SKIP } from './peers.js';

/**
 * Prints the plain closing line CI reads ("vitest: N passed, N failed, N skipped") from vitest's own results. Under
 * VDSM_TS_NO_SKIP=1 (CI) a skipped test is a failure: every test runs there, whatever made it skip, and the run
 * exits 1 (vitest keeps the exit code a reporter sets; `npm test` checks it, see scripts/run-tests.mjs).
 * Under scripts/run-tests.mjs (VDSM_TS_SUMMARY_FILE set) it prints a subtotal and leaves the counts in that file;
 * the runner prints the closing line for both of its vitest processes.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const count = { passed: 0, failed: 0, skipped: 0 };
    for (const mod of modules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') count.passed++;
        else if (state === 'failed') count.failed++;
        else count.skipped++;
      }
      // A file that failed to load has no tests to count, but it is a failure.
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) count.failed++;
    }
    if (NO_SKIP && count.skipped > 0) {
      process.stdout.write(`\n${count.skipped} test(s) skipped under VDSM_TS_NO_SKIP=1: counted as failed\n`);
      count.failed += count.skipped;
      count.skipped = 0;
    }
    if (count.failed > 0) process.exitCode = 1;
    const file = process.env.VDSM_TS_SUMMARY_FILE;
    if (file) writeFileSync(file, JSON.stringify(count));
    process.stdout.write(
      `\n${file ? 'subtotal' : 'vitest'}: ${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped\n`,
    );
  }
}
