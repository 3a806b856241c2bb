/**
 * Scenario tests of the HA coordinator on simulated time: each folder under test/coordinator/scenarios has the
 * commands (`cmds`), what oVirt / Masakari do and what we do (`README.md`), and the expected event log
 * (`expected`), compared line by line. The real driver and core run through the simulated CoordinatorEnv; the
 * simulator records every invariant broken (no VM on two hosts, no start without OFF confirmed or a person's
 * confirmation, no power action under the partition guard, no side effect from a stale leader).
 * `UPDATE_COORD_SCENARIOS=1` writes the expected logs (read them line by line before keeping them).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCoordScenario } from './coordinator/scenario.js';

const ROOT = join(import.meta.dirname, 'coordinator/scenarios');

describe('coordinator scenarios (simulated time, the real core and driver)', () => {
  for (const name of readdirSync(ROOT).sort()) {
    const dir = join(ROOT, name);
    it(name, async () => {
      expect(existsSync(join(dir, 'README.md')), `${name}/README.md`).toBe(true);
      const r = await runCoordScenario(dir);
      const file = join(dir, 'expected');
      if (process.env.UPDATE_COORD_SCENARIOS === '1') writeFileSync(file, `${r.log.join('\n')}\n`);
      else if (!existsSync(file))
        throw new Error(
          `${file} is missing: UPDATE_COORD_SCENARIOS=1 npx vitest run test/coordinator-scenarios.test.ts -t ${name} writes it (read it before keeping it)`,
        );
      expect(r.violations).toEqual([]);
      expect(r.log).toEqual(readFileSync(file, 'utf8').trimEnd().split('\n'));
    });
  }
});

// What `events` shows the person on call: the fence's story (kind fence: the host states it passed) and what became
// of its VMs (kind vm), beside the guards, alerts and commands; the expected logs above have every step.
describe('the audit trail tells a fence and its restarts', () => {
  const story = async (name: string) =>
    (await runCoordScenario(join(ROOT, name))).sim.audit
      .filter((e) => e.kind === 'fence' || e.kind === 'vm')
      .map((e) => `t=${e.at} ${e.host} ${e.kind}${e.alert ? ' ALERT' : ''}: ${e.text}`);

  it('power loss with the BMC alive: OFF read, VMs restarted, the host powered on and back', async () => {
    expect(await story('power-loss')).toEqual([
      't=49 host1 fence: Suspect -> NonResponsive: 10 failed polls and 21 s without an answer (grace 20.75 s)',
      't=50 host1 fence: NonResponsive -> SoftFencing: no witness reaches it',
      't=51 host1 fence: SoftFencing -> HardFencing: power is off',
      't=57 host1 fence: HardFencing -> PowerOffConfirmed: BMC says OFF twice',
      't=57 host1 vm: vm-c Down with host1: not HA, not restarted',
      't=60 host3 vm: vm-a Up on host3, restarted after host1 was fenced (1 try)',
      't=70 host2 vm: vm-b Up on host2, restarted after host1 was fenced (1 try)',
      't=70 host1 fence: RecoveringVMs -> Rebooting: VMs recovered; host powering on',
      't=118 host1 fence: Rebooting -> Up: answers after its reboot',
    ]);
  });

  it('BMC dead: the fence fails, a person confirms, then the restarts', async () => {
    expect(await story('bmc-dead')).toEqual([
      't=49 host1 fence: Suspect -> NonResponsive: 10 failed polls and 21 s without an answer (grace 20.75 s)',
      't=50 host1 fence: NonResponsive -> SoftFencing: no witness reaches it',
      't=51 host1 fence: SoftFencing -> HardFencing: timeouts and no witness reaches it: SSH would only wait',
      't=53 host1 fence: HardFencing -> FenceFailed: power status failed through every proxy',
      't=53 host1 fence: FenceFailed -> AwaitingManualConfirm: waiting for the host or confirm-rebooted',
      't=200 host1 fence: AwaitingManualConfirm -> PowerOffConfirmed: confirmed rebooted by alice',
      't=200 host1 vm: vm-c Down with host1: not HA, not restarted',
      't=210 host3 vm: vm-a Up on host3, restarted after host1 was fenced (1 try)',
      't=220 host2 vm: vm-b Up on host2, restarted after host1 was fenced (1 try)',
      't=220 host1 fence: RecoveringVMs -> Down: VMs recovered',
    ]);
  });
});
