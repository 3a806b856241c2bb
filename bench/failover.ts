/**
 * bench/failover: how fast the hosted-engine HA recovers, on the cluster test bed (test/cluster/cluster.ts:
 * three hosts in network namespaces, sanlock, libvirt's sanlock lock manager, the engine VM a real QEMU guest).
 *   npm run bench:failover [-- --profile fast|default|both --rounds N --scenario vm|host|both]
 * For "engine VM killed" (SIGKILL of its QEMU) and "running host killed" (every process of the host and its
 * namespace), prints the time from the fault to the engine VM Up on another host (QEMU running under the lease)
 * and to health good (that host's broker reads the health page), min / median / max over the rounds.
 * Profiles: default = the product's timings (10 s agent ticks, sanlock io_timeout 10 s, vdsm's 60 s
 * "Powering up"); fast = docs/hosted-engine.md's fast profile (1 s ticks, io_timeout 1 s).
 * Targets (default timings): host killed → Up elsewhere ≤ 90 s; VM killed → Up ≤ 20 s.
 * oVirt's published figures: host killed → VM started elsewhere ≈ 2 min, healthy ≈ 5 min; VM killed → ≈ 1 min.
 * Needs root (namespaces, FUSE, a private libvirtd per host); figures only, never pass/fail.
 */
import { parseArgs } from 'node:util';
import { measureRecovery, settledEngine, startCluster, type Profile } from '../test/cluster/cluster.js';

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'both' },
    rounds: { type: 'string' },
    scenario: { type: 'string', default: 'both' },
  },
});
const profiles: Profile[] = values.profile === 'both' ? ['fast', 'default'] : [values.profile as Profile];
if (!profiles.every((p) => p === 'fast' || p === 'default'))
  throw new Error(`--profile fast|default|both, not ${values.profile}`);
if (!['vm', 'host', 'both'].includes(values.scenario!))
  throw new Error(`--scenario vm|host|both, not ${values.scenario}`);
const killVm = values.scenario !== 'host';
const killHost = values.scenario !== 'vm';

interface Row {
  profile: Profile;
  scenario: string;
  up: number[];
  healthy: number[];
}
const rows: Row[] = [];
const row = (profile: Profile, scenario: string): Row => {
  let r = rows.find((x) => x.profile === profile && x.scenario === scenario);
  if (!r) rows.push((r = { profile, scenario, up: [], healthy: [] }));
  return r;
};
const s = (ms: number) => (ms / 1000).toFixed(1).padStart(6);
const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return `${s(sorted[0]!)} ${s(sorted[Math.floor((sorted.length - 1) / 2)]!)} ${s(sorted[sorted.length - 1]!)}`;
};

for (const profile of profiles) {
  const rounds = Number(values.rounds ?? (profile === 'fast' ? 3 : 1));
  for (let round = 1; round <= rounds; round++) {
    const c = await startCluster({ profile });
    try {
      const settleMs = profile === 'fast' ? 120_000 : 600_000;
      const waitMs = profile === 'fast' ? 240_000 : 900_000;
      if (killVm) {
        const owner = await settledEngine(c, settleMs);
        const at = Date.now();
        await c.faults.killVm(owner);
        const r = await measureRecovery(c, at, owner, { elsewhere: true, timeoutMs: waitMs, what: 'VM killed' });
        row(profile, 'engine VM killed').up.push(r.upMs);
        row(profile, 'engine VM killed').healthy.push(r.healthyMs);
        console.log(
          `${profile} round ${round}: VM killed on host ${owner}: Up on host ${r.host} after ${s(r.upMs)} s, healthy after ${s(r.healthyMs)} s${r.twice.length ? ' — RAN TWICE' : ''}`,
        );
      }
      if (killHost) {
        const owner = await settledEngine(c, settleMs);
        const at = Date.now();
        await c.faults.killHost(owner);
        const r = await measureRecovery(c, at, owner, { elsewhere: true, timeoutMs: waitMs, what: 'host killed' });
        row(profile, 'running host killed').up.push(r.upMs);
        row(profile, 'running host killed').healthy.push(r.healthyMs);
        console.log(
          `${profile} round ${round}: host ${owner} killed: Up on host ${r.host} after ${s(r.upMs)} s, healthy after ${s(r.healthyMs)} s${r.twice.length ? ' — RAN TWICE' : ''}`,
        );
      }
      if (c.maxRunning() > 1)
        console.log(`${profile} round ${round}: the engine VM ran on ${c.maxRunning()} hosts at once`);
    } finally {
      await c.stop();
    }
  }
}

console.log('\nprofile  scenario              n   fault→Up (s) min/median/max   fault→healthy (s) min/median/max');
for (const r of rows)
  console.log(
    `${r.profile.padEnd(8)} ${r.scenario.padEnd(20)} ${String(r.up.length).padStart(2)}   ${stats(r.up)}          ${stats(r.healthy)}`,
  );
