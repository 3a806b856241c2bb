import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Three projects, one file in exactly one:
 * - unit: pure or in-process (HA core, scenarios, whiteboard, parsers, JSON-RPC, verbs over an in-process dispatcher,
 *   libvirt's in-process test driver); no root, no daemons, no build beyond the libvirt addon (`npm run test:unit`).
 * - heavy: the real-peer files that load the machine: QEMU guests, private libvirtds, sanlock daemons, the
 *   three-host cluster test bed. They run at most two at a time (scripts/run-tests.mjs).
 * - peers: everything else (vdsmd processes, BMC/PDU simulators, ClusterLabs' agents, rpmbuild); new files land here.
 * `npm test` runs unit + peers in one vitest process and heavy in another, at the same time, each with its own
 * workers, so the heavy files' load cannot queue up behind or crowd out the rest. `npx vitest run [files]` runs
 * everything matched in one process with the shared settings below.
 */
export const UNIT = [
  'test/api-doc.test.ts',
  'test/coordinator-api.test.ts',
  'test/cluster/safety-rules.test.ts',
  'test/coordinator-etcd-unit.test.ts',
  'test/coordinator-hosts-secrets.test.ts',
  'test/coordinator-core.test.ts',
  'test/coordinator-random.test.ts',
  'test/coordinator-scenarios.test.ts',
  'test/coordinator-serve-config.test.ts',
  'test/fence-agents.test.ts',
  'test/fence-delay.test.ts',
  'test/fence-log.test.ts',
  'test/he-broker.test.ts',
  'test/he-broker-metrics.test.ts',
  'test/he-core.test.ts',
  'test/he-scenarios.test.ts',
  'test/he-whiteboard.test.ts',
  'test/he-monitors.test.ts',
  'test/host-capabilities.test.ts',
  'test/host-stats.test.ts',
  'test/jsonrpc.test.ts',
  'test/libvirt-binding.test.ts',
  'test/package-bin.test.ts',
  'test/listener.test.ts',
  'test/param-strings.test.ts',
  'test/repo-references.test.ts',
  'test/service.test.ts',
  'test/stomp-parser.test.ts',
  'test/vdsm-tool.test.ts',
  'test/virt-units.test.ts',
  'test/vm-lifecycle.test.ts',
  'test/vm-recovery.test.ts',
  'test/vdsmd-metrics-service.test.ts',
];
export const HEAVY = [
  'test/cluster/**/*.test.ts',
  'test/vm-qemu.test.ts',
  'test/libvirtd-fixture.test.ts',
  'test/he-cluster.test.ts',
  'test/fence-node-policy.test.ts',
  // the coordinator's loopback bed: 3 or 4 vdsmd, sshd and ipmi_sim, etcd and coordinator processes, minutes each
  'test/coordinator-e2e-fencing.test.ts',
  'test/coordinator-e2e-scale.test.ts',
  // the same bed as machines in network namespaces: 3 hosts, 3 BMCs, 3 etcd members, 2 replicas
  'test/coordinator-netbed.test.ts',
  'test/coordinator-netbed-fencing.test.ts',
  'test/coordinator-netbed-guards.test.ts',
  'test/coordinator-netbed-recovery.test.ts',
  'test/coordinator-netbed-leadership.test.ts',
];

/**
 * vitest's order (failed, then longest first), but the two halves of the failure plan (the longest files, ~4 min
 * each) first even in a fresh clone, so that they run side by side and the shorter heavy files fill in after.
 */
class FailoverFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (f: TestSpecification) => /\/test\/cluster\/he-failover-[a-z]+\.test\.ts$/.test(f.moduleId);
    return [...sorted.filter(first), ...sorted.filter((f) => !first(f))];
  }
}

export default defineConfig({
  test: {
    // No include here: a project that extends this config would add its own to it.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most tests wait on real peers (sanlock's timeouts, BMC simulators, QEMU), not on the CPU: with vitest's
    // default of cores − 1 (one worker on these 2-core machines) the suite runs file after file. npm test sets
    // each process's own count (scripts/run-tests.mjs).
    maxWorkers: 4,
    minWorkers: 1,
    reporters: ['default', './test/support/summary-reporter.ts'],
    sequence: { sequencer: FailoverFirst },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'peers',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...UNIT, ...HEAVY],
        },
      },
      { extends: true, test: { name: 'heavy', include: HEAVY, exclude: [...configDefaults.exclude, ...UNIT] } },
    ],
  },
});
