/**
 * Proves test/fixtures/ipmi-sim.ts with ClusterLabs' own fence_ipmilan (Debian fence-agents),
 * run directly (its shebang picks /usr/bin/python3).
 * Needs Debian packages: fence-agents, ipmitool, openipmi.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIpmiSim, type IpmiSim } from './fixtures/ipmi-sim.js';
import { runFence } from './support/fence-exec.js';
import { missing } from './support/peers.js';

const AGENT = '/usr/sbin/fence_ipmilan';
const AGENT_TIMEOUT_MS = 25_000;
const noAgent = missing('ClusterLabs fence_ipmilan (fence-agents)', !existsSync(AGENT));

function cli(sim: IpmiSim, user: string, password: string, action: string) {
  return runFence(
    AGENT,
    [
      '--ip',
      '127.0.0.1',
      '--ipport',
      String(sim.port),
      '-l',
      user,
      '-p',
      password,
      '--lanplus',
      '-C',
      '3',
      '-o',
      action,
      '--power-wait',
      '0',
    ],
    undefined,
    AGENT_TIMEOUT_MS,
    process.env,
  );
}

/** stdin form with the old option names */
function stdin(sim: IpmiSim, user: string, password: string, action: string) {
  const input = [
    `ipaddr=127.0.0.1`,
    `ipport=${sim.port}`,
    `login=${user}`,
    `passwd=${password}`,
    'lanplus=1',
    'cipher=3',
    'power_wait=0',
    `action=${action}`,
    '',
  ].join('\n');
  return runFence(AGENT, [], input, AGENT_TIMEOUT_MS, process.env);
}

describe.skipIf(noAgent)('ipmi_sim fixture vs real fence_ipmilan', () => {
  let sim: IpmiSim;
  beforeAll(async () => {
    sim = await startIpmiSim();
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('exposes a live process, a port and the state dir', () => {
    expect(sim.port).toBeGreaterThan(0);
    expect(() => process.kill(sim.pid, 0)).not.toThrow();
    expect(existsSync(sim.stateDir)).toBe(true);
    expect(sim.power()).toBe('on');
  });

  it('command line: status / off / status / on / reboot; the BMC records each power transition', async () => {
    const before = sim.transitions().length;
    let r = await cli(sim, 'admin', 'password', 'status');
    expect([r.code, r.stdout]).toEqual([0, 'Status: ON\n']);

    r = await cli(sim, 'admin', 'password', 'off');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered OFF\n']);
    expect(sim.power()).toBe('off');

    r = await cli(sim, 'admin', 'password', 'status');
    expect([r.code, r.stdout]).toEqual([2, 'Status: OFF\n']);

    r = await cli(sim, 'admin', 'password', 'on');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered ON\n']);
    expect(sim.power()).toBe('on');

    r = await cli(sim, 'admin', 'password', 'reboot');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Rebooted\n']);
    expect(sim.power()).toBe('on');
    // off, on, then the reboot's off and on; status reads are not transitions
    expect(sim.transitions().slice(before)).toEqual(['power 0', 'power 1', 'power 0', 'power 1']);
  });

  it('setPower() is what the agent sees (and not a transition the BMC records)', async () => {
    const before = sim.transitions().length;
    sim.setPower('off');
    let r = await cli(sim, 'admin', 'password', 'status');
    expect([r.code, r.stdout]).toEqual([2, 'Status: OFF\n']);
    expect(sim.transitions().slice(before)).toEqual([]);
    // reboot of a powered-off node ends powered on
    r = await cli(sim, 'admin', 'password', 'reboot');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Rebooted\n']);
    expect(sim.power()).toBe('on');
    expect(sim.transitions().slice(before)).toEqual(['power 1']);
  });

  it('stdin key=value form with old names', async () => {
    let r = await stdin(sim, 'admin', 'password', 'off');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered OFF\n']);
    expect(sim.power()).toBe('off');

    r = await stdin(sim, 'admin', 'password', 'status');
    expect([r.code, r.stdout]).toEqual([2, 'Status: OFF\n']);

    r = await stdin(sim, 'admin', 'password', 'on');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered ON\n']);
    expect(sim.power()).toBe('on');

    r = await stdin(sim, 'admin', 'password', 'status');
    expect([r.code, r.stdout]).toEqual([0, 'Status: ON\n']);

    r = await stdin(sim, 'admin', 'password', 'reboot');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Rebooted\n']);
    expect(sim.power()).toBe('on');
  });

  it('wrong password fails with exit 1 and changes nothing', async () => {
    let r = await cli(sim, 'admin', 'wrong', 'off');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Failed: Unable to obtain correct plug status or plug is not available');
    expect(sim.power()).toBe('on');

    r = await stdin(sim, 'admin', 'wrong', 'status');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
  });
});

describe.skipIf(noAgent)('ipmi_sim fixture options', () => {
  it('custom credentials, initial power off, stop() cleans up', async () => {
    const sim = await startIpmiSim({ user: 'fencer', password: 's3cr.t-x', power: 'off' });
    try {
      expect(sim.power()).toBe('off');
      let r = await cli(sim, 'fencer', 's3cr.t-x', 'status');
      expect([r.code, r.stdout]).toEqual([2, 'Status: OFF\n']);
      r = await cli(sim, 'admin', 'password', 'status');
      expect(r.code).toBe(1);
      r = await stdin(sim, 'fencer', 's3cr.t-x', 'on');
      expect([r.code, r.stdout]).toEqual([0, 'Success: Powered ON\n']);
      expect(sim.power()).toBe('on');
    } finally {
      await sim.stop();
    }
    expect(existsSync(sim.stateDir)).toBe(false);
    expect(() => process.kill(sim.pid, 0)).toThrow();
  });

  it('parallel simulators get distinct ports and independent state', async () => {
    const sims = await Promise.all([startIpmiSim(), startIpmiSim({ power: 'off' }), startIpmiSim()]);
    try {
      expect(new Set(sims.map((s) => s.port)).size).toBe(3);
      const results = await Promise.all(sims.map((s) => cli(s, 'admin', 'password', 'status')));
      expect(results.map((r) => [r.code, r.stdout])).toEqual([
        [0, 'Status: ON\n'],
        [2, 'Status: OFF\n'],
        [0, 'Status: ON\n'],
      ]);
    } finally {
      await Promise.all(sims.map((s) => s.stop()));
    }
  });

  it('rejects credentials that cannot be put in lan.conf', async () => {
    await expect(startIpmiSim({ password: 'has space' })).rejects.toThrow(/must match/);
  });
});
