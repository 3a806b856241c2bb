/**
 * Scale against real peers on loopback (test/coordinator-bed/): 4 hosts with 50 VMs each on the libvirt test driver,
 * one host's power cut (vdsmd and its guests gone, its BMC reading OFF without having switched anything): every HA VM
 * of it Up on the other hosts exactly once, spread over them by the placement rule (enough free memory, fewest VMs
 * first). The bed's hosts share one machine, so they report the same free memory and the spread comes out by count.
 * The 200 VMs are defined and started through the coordinator's HTTP API (the routes the CLI calls): 400 CLI
 * processes would take minutes on their own. Timings: FAST_POLICY (test/coordinator-bed/policy.ts), lease TTL 5 s.
 */
import { describe, expect, it } from 'vitest';
import { type BedVm, withBed } from './coordinator-bed/bed.js';
import { rpcCalls, total, whereSeen } from './coordinator-bed/evidence.js';
import { FAST_POLICY } from './coordinator-bed/policy.js';
import { fenceTimeline, printTimeline } from './coordinator-bed/timeline.js';
import { sleep } from './support/wait.js';

const HOSTS = 4;
const PER_HOST = 50;

describe('one host of 4 × 50 VMs loses its power', () => {
  it('has every HA VM of it Up elsewhere exactly once, spread over the other hosts', async () => {
    await withBed({ hosts: HOSTS, replicas: 1, policy: FAST_POLICY }, async (bed) => {
      const leader = await bed.leader();
      await bed.addHosts();
      await bed.until(
        'every host Up',
        async () => {
          const hosts = await bed.hostViews(leader).catch(() => []);
          return hosts.length === HOSTS && hosts.every((h) => h.state === 'Up');
        },
        60_000,
      );
      const placed: Record<string, BedVm[]> = {};
      for (const h of bed.hosts) {
        // on host1 every VM is HA but one in ten (those must stay down)
        const plans = Array.from({ length: PER_HOST }, (_, i) => ({
          name: `${h.name}-vm${String(i).padStart(2, '0')}`,
          ha: h.name !== 'host1' || i % 10 !== 0,
          memMiB: 64,
        }));
        placed[h.name] = await bed.defineVmsByApi(plans);
      }
      // in waves of 10 per host: with more starts in flight on a host than startsInFlightPerHost (default 10), the
      // core places a `vm start --host H` elsewhere ("H cannot take it now")
      for (let i = 0; i < PER_HOST; i += 10) {
        for (const [host, vms] of Object.entries(placed)) await bed.startVmsByApi(vms.slice(i, i + 10), host);
        await bed.settle(120_000);
      }

      const victims = placed.host1!;
      const ha = victims.filter((v) => v.ha);
      const t0 = Date.now();
      await bed.bmc('host1').powerCut();
      await bed.until(
        'every HA VM of host1 Up on another host',
        () => ha.every((v) => bed.sampler.firstUp(v.id, t0, ['host1'])),
        300_000,
        1000,
      );
      await sleep(5000);
      const marks = await fenceTimeline(
        bed,
        'host1',
        t0,
        ha.map((v) => v.id),
      );
      printTimeline(`power cut, ${ha.length} HA VMs`, t0, marks);
      const off = marks['OFF confirmed']?.at;
      const last = marks['last VM Up (sampler)']?.at;
      if (off !== undefined && last !== undefined)
        console.log(`OFF confirmed → last VM Up: ${((last - off) / 1000).toFixed(1)} s for ${ha.length} VMs`);

      const seen = whereSeen(bed, victims, t0 + 1);
      for (const v of ha) expect(seen[v.name], v.name).toHaveLength(1);
      for (const v of victims.filter((x) => !x.ha)) expect(seen[v.name], v.name).toEqual([]);
      expect(total(rpcCalls(bed, 'VM.create', t0))).toBe(ha.length);
      const spread: Record<string, number> = {};
      for (const v of ha) spread[seen[v.name]![0]!] = (spread[seen[v.name]![0]!] ?? 0) + 1;
      console.log(`where host1's HA VMs went: ${JSON.stringify(spread)}`);
      const counts = ['host2', 'host3', 'host4'].map((h) => spread[h] ?? 0);
      expect(Math.max(...counts) - Math.min(...counts), JSON.stringify(spread)).toBeLessThanOrEqual(1);
      expect(bed.bmc('host1').transitions()).toEqual([]);
    });
  }, 900_000);
});
