/**
 * bench/fencing: how fast the HA coordinator recovers a host's VMs, on the loopback bed (test/coordinator-bed/: vdsmd
 * hosts on libvirt's test driver over their node files, ipmi_sim BMCs whose power-off is real, serve replicas as
 * processes, a sampler asking every host what it runs).
 *   npm run bench:fencing [-- --scale --hosts 4 --vms 50 --rounds 1 --policy fast|default]
 * --scale: N hosts × M VMs each (every VM of the victim HA), one host's power cut; prints the time from the cut to
 * OFF confirmed and from OFF confirmed to the last VM Up (seen by the sampler), and VM.create calls per second.
 * Restarts run in parallel, at most 10 in flight per target host (docs/coordinator.md, "Defaults"). For reference:
 * Masakari evacuates 3 instances at a time and its users report timeouts past 30.
 * Figures only, never pass/fail. Issue 14 adds the bed in network namespaces and the other
 * scenarios.
 */
import { parseArgs } from 'node:util';
import { withBed } from '../test/coordinator-bed/bed.js';
import { FAST_POLICY } from '../test/coordinator-bed/policy.js';
import { fenceTimeline } from '../test/coordinator-bed/timeline.js';

const { values } = parseArgs({
  options: {
    scale: { type: 'boolean', default: true },
    hosts: { type: 'string', default: '4' },
    vms: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '1' },
    policy: { type: 'string', default: 'fast' },
  },
});
const hosts = Number(values.hosts);
const perHost = Number(values.vms);
const rounds = Number(values.rounds);
if (!Number.isInteger(hosts) || hosts < 2) throw new Error(`--hosts: at least 2, not ${values.hosts}`);
if (!Number.isInteger(perHost) || perHost < 1) throw new Error(`--vms: at least 1, not ${values.vms}`);
if (values.policy !== 'fast' && values.policy !== 'default') throw new Error('--policy fast|default');
const policy = values.policy === 'fast' ? FAST_POLICY : {};

const s = (ms: number | undefined) => (ms === undefined ? '—' : (ms / 1000).toFixed(1));
const rows: { off?: number; last?: number; n: number }[] = [];
for (let round = 1; round <= rounds; round++) {
  await withBed({ hosts, replicas: 1, policy }, async (bed) => {
    const leader = await bed.leader();
    await bed.addHosts();
    await bed.until(
      'every host Up',
      async () => (await bed.hostViews(leader).catch(() => [])).filter((h) => h.state === 'Up').length === hosts,
      120_000,
    );
    // A host added at runtime shows Up before its first poll, and the core refuses to start a VM there until it has
    // answered once: two stats rounds of the policy.
    await new Promise((resolve) => setTimeout(resolve, 2000 * Number(policy.statsInterval ?? 10)));
    let victims: Awaited<ReturnType<typeof bed.defineVmsByApi>> = [];
    for (const h of bed.hosts) {
      const plans = Array.from({ length: perHost }, (_, i) => ({ name: `${h.name}-vm${i}`, ha: true, memMiB: 64 }));
      const vms = await bed.defineVmsByApi(plans);
      await bed.startVmsByApi(vms, h.name);
      if (h.name === bed.hosts[0]!.name) victims = vms;
    }
    await bed.settle(180_000);
    const victim = bed.hosts[0]!.name;
    const t0 = Date.now();
    await bed.bmc(victim).powerCut();
    await bed.until(
      'every VM of the victim Up elsewhere',
      () => victims.every((v) => bed.sampler.firstUp(v.id, t0, [victim])),
      900_000,
      500,
    );
    const marks = await fenceTimeline(
      bed,
      victim,
      t0,
      victims.map((v) => v.id),
    );
    const off = marks['OFF confirmed']?.at;
    const last = marks['last VM Up (sampler)']?.at;
    rows.push({ off: off && off - t0, last: off && last ? last - off : undefined, n: victims.length });
    console.log(
      `round ${round}: power cut → OFF confirmed ${s(off && off - t0)} s; OFF confirmed → last of ${victims.length} VMs Up ${s(
        off && last ? last - off : undefined,
      )} s`,
    );
  });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const offs = rows.flatMap((r) => (r.off === undefined ? [] : [r.off]));
const lasts = rows.flatMap((r) => (r.last === undefined ? [] : [r.last]));
console.log(
  `\nscale ${hosts} hosts × ${perHost} VMs, policy ${values.policy}, ${rounds} round(s): power cut → OFF confirmed ` +
    `median ${s(median(offs))} s, max ${s(offs.length ? Math.max(...offs) : undefined)} s; OFF confirmed → last VM Up ` +
    `median ${s(median(lasts))} s, max ${s(lasts.length ? Math.max(...lasts) : undefined)} s` +
    (lasts.length ? ` (${((perHost * 1000) / median(lasts)!).toFixed(1)} VMs/s)` : ''),
);
