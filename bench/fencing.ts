/**
 * bench/fencing: how fast the HA coordinator recovers a host and its VMs (test/coordinator-bed/: vdsmd hosts, ipmi_sim
 * BMCs whose power-off is real, serve replicas as processes, a sampler asking every host what it runs and watching
 * each guest's console). Figures only, never pass/fail.
 *
 *   npm run bench:fencing -- --scenario vdsmd-killed|network-cut|power-loss|evacuation-all|all [--rounds 5]
 *                          [--policy default|fast]
 * Issue 14's scenarios on the netns bed (every host, BMC, etcd and replica a machine in a network namespace; root),
 * each VM a tiny QEMU guest under its host's own libvirtd, the core's default timings unless --policy fast: per round
 * the fault's t0 and the milestones after it (the coordinator's last good poll of host1 is before it), then per
 * scenario one line `SCENARIO: NonResponsive X s, OFF confirmed Y s, last HA VM Up Z s, its guest answers W s`
 * (median and max) against issue 14's targets: vdsmd killed → host Up ≤ 20 s; management network cut with the BMC
 * alive → last HA VM Up ≤ 60 s; power lost with the BMC alive → ≤ 45 s; evacuation-all (scenario 6: policy `all`,
 * host1 powered off through its BMC, its plain VM restarted too, "last VM Up" of all three) has no target. For
 * reference: oVirt ≈ 2.5 min from a pulled plug to the VM answering (the oVirt project's measurement), Proxmox ≈ 2 min
 * (its docs), Masakari ≥ 4 min (its fixed 180 s wait).
 *
 *   npm run bench:fencing -- --scenario scale [--hosts 4 --vms 50 --rounds 1 --policy fast]
 * On the loopback bed (libvirt's test driver in each vdsmd over its node file): N hosts × M VMs each (every VM of the
 * victim HA), one host's power cut; the time from the cut to OFF confirmed and from OFF confirmed to the last VM Up,
 * and VM.create calls per second. Restarts run in parallel, at most 10 in flight per target host (docs/coordinator.md,
 * "Defaults"); Masakari evacuates 3 instances at a time and its users report timeouts past 30.
 */
import { parseArgs } from 'node:util';
import { type Bed, type BedVm, withBed } from '../test/coordinator-bed/bed.js';
import { FAST_POLICY } from '../test/coordinator-bed/policy.js';
import { plan, populate } from '../test/coordinator-bed/populate.js';
import { fenceTimeline } from '../test/coordinator-bed/timeline.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'scale' },
    scale: { type: 'boolean', default: false }, // the old spelling of --scenario scale
    hosts: { type: 'string', default: '4' },
    vms: { type: 'string', default: '50' },
    rounds: { type: 'string' },
    policy: { type: 'string' },
  },
});
const scenario = values.scale ? 'scale' : values.scenario;
const SCENARIOS = ['vdsmd-killed', 'network-cut', 'power-loss', 'evacuation-all'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** Issue 14's targets; scenario 6 has none (it is there for what `all` costs over `ha-only`). */
const TARGET_S: Record<Scenario, number | undefined> = {
  'vdsmd-killed': 20,
  'network-cut': 60,
  'power-loss': 45,
  'evacuation-all': undefined,
};
if (scenario !== 'scale' && scenario !== 'all' && !SCENARIOS.includes(scenario as Scenario))
  throw new Error(`--scenario: scale, all or one of ${SCENARIOS.join(', ')}, not ${scenario}`);
const policyName = values.policy ?? (scenario === 'scale' ? 'fast' : 'default');
if (policyName !== 'fast' && policyName !== 'default') throw new Error('--policy fast|default');
const policy = policyName === 'fast' ? FAST_POLICY : {};
const rounds = Number(values.rounds ?? (scenario === 'scale' ? 1 : 5));
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: at least 1, not ${values.rounds}`);

const s = (ms: number | undefined) => (ms === undefined ? '—' : (ms / 1000).toFixed(1));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stat = (xs: (number | undefined)[]) => {
  const seen = xs.filter((x): x is number => x !== undefined);
  const missing = xs.length - seen.length;
  return seen.length
    ? `${s(median(seen))} s (max ${s(Math.max(...seen))})${missing ? `, not seen in ${missing}` : ''}`
    : 'not seen';
};

if (scenario === 'scale') await scale();
else for (const name of scenario === 'all' ? SCENARIOS : [scenario as Scenario]) await scenarioRounds(name);

/** host1 of a populated netns bed broken as `name` says; resolves once it is recovered. */
async function breakAndRecover(bed: Bed, name: Scenario, back: BedVm[], t0: number): Promise<void> {
  const leader = await bed.leader();
  const state = async () => (await bed.hostViews(leader).catch(() => [])).find((h) => h.id === 'host1')?.state;
  if (name === 'vdsmd-killed') {
    await bed.faults!.killVdsmd('host1');
    await bed.until(
      'host1 soft-fenced and Up',
      async () => bed.desk.served.length > 0 && (await state()) === 'Up',
      600_000,
    );
    return;
  }
  if (name === 'network-cut') await bed.faults!.cutHost('host1', 'both');
  else if (name === 'evacuation-all') await bed.faults!.powerOff('host1');
  else await bed.bmc('host1').powerCut();
  await bed.until(
    'the VMs of host1 that come back Up elsewhere',
    () => back.every((v) => bed.sampler.firstUp(v.id, t0, ['host1'])),
    600_000,
  );
  if (bed.qemuGuests)
    await bed.until('their guests to answer', () => back.every((v) => bed.sampler.firstAnswer(v.id, t0)), 600_000);
}

async function scenarioRounds(name: Scenario): Promise<void> {
  const rows: {
    lastOk?: number;
    nonResponsive?: number;
    off?: number;
    hostUp?: number;
    lastUp?: number;
    answered?: number;
  }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const all = name === 'evacuation-all';
    const p = all ? { ...policy, defaultEvacuation: 'all' } : policy;
    await withBed(
      { hosts: 3, replicas: 1, etcdMembers: 1, policy: p, topology: 'netns', ttlSeconds: 10 },
      async (bed) => {
        const vms = await populate(bed, plan());
        // with `all`, host1's plain VM comes back running too
        const back = vms.host1!.filter((v) => v.ha || all);
        const t0 = Date.now();
        await breakAndRecover(bed, name, back, t0);
        const m = await fenceTimeline(bed, 'host1', t0, name === 'vdsmd-killed' ? [] : back.map((v) => v.id));
        const after = (k: string) => (m[k]?.at === undefined ? undefined : m[k]!.at! - t0);
        const row = {
          lastOk: after('last good poll'),
          nonResponsive: after('NonResponsive'),
          off: after('OFF confirmed'),
          hostUp: after('soft fence done'),
          lastUp: after('last VM Up (sampler)'),
          answered: after('last guest answers'),
        };
        rows.push(row);
        console.log(
          `${name} round ${round}: last good poll ${s(row.lastOk)} s, NonResponsive ${s(row.nonResponsive)} s, ` +
            (name === 'vdsmd-killed'
              ? `host Up ${s(row.hostUp)} s`
              : `OFF confirmed ${s(row.off)} s, last ${all ? '' : 'HA '}VM Up ${s(row.lastUp)} s, ` +
                `its guest answers ${s(row.answered)} s`) +
            ' after the fault',
        );
      },
    );
  }
  const col = (k: keyof (typeof rows)[number]) => stat(rows.map((r) => r[k]));
  console.log(
    `\n${name} (${rounds} rounds, policy ${policyName}): NonResponsive ${col('nonResponsive')}, ` +
      (name === 'vdsmd-killed'
        ? `host Up ${col('hostUp')}`
        : `OFF confirmed ${col('off')}, last ${name === 'evacuation-all' ? '' : 'HA '}VM Up ${col('lastUp')}, ` +
          `its guest answers ${col('answered')}`) +
      (TARGET_S[name] === undefined ? '; no target\n' : `; target ≤ ${TARGET_S[name]} s\n`),
  );
}

async function scale(): Promise<void> {
  const hosts = Number(values.hosts);
  const perHost = Number(values.vms);
  if (!Number.isInteger(hosts) || hosts < 2) throw new Error(`--hosts: at least 2, not ${values.hosts}`);
  if (!Number.isInteger(perHost) || perHost < 1) throw new Error(`--vms: at least 1, not ${values.vms}`);
  const rows: { off?: number; last?: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    await withBed({ hosts, replicas: 1, policy }, async (bed) => {
      const leader = await bed.leader();
      await bed.addHosts();
      await bed.until(
        'every host Up',
        async () => (await bed.hostViews(leader).catch(() => [])).filter((h) => h.state === 'Up').length === hosts,
        120_000,
      );
      // A host added at runtime shows Up before its first poll, and the core refuses to start a VM there until it
      // has answered once: two stats rounds of the policy.
      await new Promise((resolve) => setTimeout(resolve, 2000 * Number(policy.statsInterval ?? 10)));
      let victims: BedVm[] = [];
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
      rows.push({ off: off && off - t0, last: off && last ? last - off : undefined });
      console.log(
        `round ${round}: power cut → OFF confirmed ${s(off && off - t0)} s; OFF confirmed → last of ${victims.length} VMs Up ${s(
          off && last ? last - off : undefined,
        )} s`,
      );
    });
  }
  const offs = rows.flatMap((r) => (r.off === undefined ? [] : [r.off]));
  const lasts = rows.flatMap((r) => (r.last === undefined ? [] : [r.last]));
  console.log(
    `\nscale ${hosts} hosts × ${perHost} VMs, policy ${policyName}, ${rounds} round(s): power cut → OFF confirmed ` +
      `median ${s(median(offs))} s, max ${s(offs.length ? Math.max(...offs) : undefined)} s; OFF confirmed → last VM Up ` +
      `median ${s(median(lasts))} s, max ${s(lasts.length ? Math.max(...lasts) : undefined)} s` +
      (lasts.length ? ` (${((perHost * 1000) / median(lasts)!).toFixed(1)} VMs/s)` : ''),
  );
}
