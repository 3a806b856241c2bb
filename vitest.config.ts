import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most tests wait on real peers (sanlock's timeouts, BMC simulators, QEMU), not on the CPU: with vitest's
    // default of cores − 1 (one worker on these 2-core machines) the suite runs file after file.
    maxWorkers: 4,
    minWorkers: 1,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
