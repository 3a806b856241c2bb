/**
 * The HA coordinator against real peers on loopback (test/coordinator-bed/): vdsmd processes with mutual TLS on the
 * libvirt test driver, ipmi_sim BMCs whose power-off really stops their host, an OpenSSH sshd per host whose command
 * restarts that host's vdsmd, etcd, and `vdsm-ts-coordinator serve` as a process, set up through its CLI. A sampler
 * asks every host what it runs every 500 ms: a VM on two hosts in one sample fails the scenario.
 * Timings: FAST_POLICY (test/coordinator-bed/policy.ts), lease TTL 5 s, tick 500 ms.
 */
import { describe, expect, it } from 'vitest';
import { withBed } from './coordinator-bed/bed.js';
import { rpcCalls, total, whereSeen } from './coordinator-bed/evidence.js';
import {
  expectRecovered,
  hostState,
  plan,
  transitions,
  untilFencedAndRestarted,
  vdsmdKilledScenario,
} from './coordinator-bed/fencing-scenarios.js';
import { FAST_POLICY } from './coordinator-bed/policy.js';
import { populate } from './coordinator-bed/populate.js';
import { fenceTimeline, printTimeline } from './coordinator-bed/timeline.js';

const THREE_HOSTS = { hosts: 3, replicas: 1, etcdMembers: 1 as const, policy: FAST_POLICY };

describe('a host whose vdsmd is killed (host fine, BMC on)', () => {
  it('is soft-fenced over SSH: its vdsmd restarted, back Up, its VMs untouched and no power action', async () => {
    await withBed(THREE_HOSTS, vdsmdKilledScenario);
  }, 300_000);
});

describe('a host that hangs (vdsmd frozen) with its BMC answering', () => {
  it('is powered off through a proxy once no witness reaches it; its HA VMs start on the other hosts exactly once', async () => {
    await withBed(THREE_HOSTS, async (bed) => {
      const vms = await populate(bed, plan());
      const t0 = Date.now();
      bed.host('host1').freeze();

      const ha = vms.host1!.filter((v) => v.ha);
      await untilFencedAndRestarted(bed, 'host1', ha, t0);
      await new Promise((r) => setTimeout(r, 5000));
      printTimeline(
        'host hangs, BMC answers',
        t0,
        await fenceTimeline(
          bed,
          'host1',
          t0,
          ha.map((v) => v.id),
        ),
      );

      expect(transitions(bed)).toEqual({ host1: ['power 0'], host2: [], host3: [] });
      expect(bed.host('host1').alive()).toBe(false);
      // the power-off went through a proxy: one of the other hosts' vdsmd ran Host.fenceNode
      const fence = rpcCalls(bed, 'Host.fenceNode', t0);
      expect(fence.host1).toBe(0);
      expect(fence.host2! + fence.host3!).toBeGreaterThan(0);
      // timeouts, not a refused port: no SSH restart was tried
      expect(bed.desk.served).toEqual([]);
      await expectRecovered(bed, vms, t0);
    });
  }, 300_000);
});

describe('a host whose power is lost with its BMC', () => {
  it('restarts nothing and raises an alert until a person confirms the reboot; then its HA VMs start elsewhere', async () => {
    await withBed(THREE_HOSTS, async (bed) => {
      const vms = await populate(bed, plan());
      const t0 = Date.now();
      await bed.bmc('host1').kill();
      await bed.host('host1').powerOff();
      const down = Date.now();

      const leader = await bed.leader();
      await bed.until(
        'host1 in FenceFailed or AwaitingManualConfirm, with an alert for it',
        async () => {
          const early = Object.entries(whereSeen(bed, vms.host1!, down)).filter(([, on]) => on.length > 0);
          if (early.length) throw new Error(`restarted before anyone confirmed: ${JSON.stringify(early)}`);
          const state = await hostState(bed, 'host1');
          const alerts = (await leader.events()).filter(
            (e) => e.host === 'host1' && e.alert && Date.parse(e.time) >= t0,
          );
          return (state === 'FenceFailed' || state === 'AwaitingManualConfirm') && alerts.length > 0;
        },
        120_000,
      );
      // nothing restarts while nobody confirmed (a few more rounds)
      await new Promise((r) => setTimeout(r, 8000));
      const ha = vms.host1!.filter((v) => v.ha);
      expect(whereSeen(bed, vms.host1!, down)).toEqual({ 'h1-ha-a': [], 'h1-ha-b': [], 'h1-plain': [] });
      expect(total(rpcCalls(bed, 'VM.create', t0))).toBe(0);
      const alerts = (await leader.events()).filter((e) => e.host === 'host1' && e.alert && Date.parse(e.time) >= t0);
      console.log(`alerts for host1:\n${alerts.map((e) => `  ${e.time} ${e.kind} ${e.text}`).join('\n')}`);

      const refused = await leader.cli(['confirm-rebooted', 'host1']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/twice/);
      const tConfirm = Date.now();
      await leader.cliOk(['confirm-rebooted', 'host1', '--yes']);
      await bed.until(
        'the HA VMs of host1 Up on another host after the confirmation',
        () => ha.every((v) => bed.sampler.firstUp(v.id, tConfirm, ['host1'])),
        90_000,
      );
      await new Promise((r) => setTimeout(r, 5000));
      printTimeline('BMC dead, then confirm-rebooted', t0, {
        ...(await fenceTimeline(
          bed,
          'host1',
          t0,
          ha.map((v) => v.id),
        )),
        'confirm-rebooted': { what: 'cli', at: tConfirm, where: 'bed' },
      });

      const seen = whereSeen(bed, vms.host1!, down);
      for (const v of ha) expect(seen[v.name], v.name).toHaveLength(1);
      expect(seen['h1-plain']).toEqual([]);
      expect(total(rpcCalls(bed, 'VM.create', t0))).toBe(ha.length);
      expect(bed.desk.served).toEqual([]);
      const confirmed = (await leader.events()).filter((e) => e.kind === 'command' && /bed-admin/.test(e.text));
      expect(confirmed.map((e) => e.text).join('\n')).toMatch(/confirm/i);
    });
  }, 300_000);
});
