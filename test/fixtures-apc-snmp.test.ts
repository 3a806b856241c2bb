/**
 * Proves test/fixtures/apc-snmp-sim.ts with ClusterLabs' own fence_apc_snmp (Debian fence-agents),
 * run directly (its shebang picks /usr/bin/python3).
 * Needs Debian packages: fence-agents, snmpsim, snmp (net-snmp CLI tools the agent runs).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApcSnmpSim, type ApcSnmpSim } from './fixtures/apc-snmp-sim.js';
import { runFence } from './support/fence-exec.js';
import { missing } from './support/peers.js';

const AGENT = '/usr/sbin/fence_apc_snmp';
const AGENT_TIMEOUT_MS = 25_000;
const noAgent = missing('ClusterLabs fence_apc_snmp (fence-agents)', !existsSync(AGENT));

function agent(sim: ApcSnmpSim, community: string, ...args: string[]) {
  return runFence(
    AGENT,
    ['--ip', '127.0.0.1', '--ipport', String(sim.port), '-c', community, ...args],
    undefined,
    AGENT_TIMEOUT_MS,
    process.env,
  );
}

describe.skipIf(noAgent)('snmpsim APC rPDU fixture vs real fence_apc_snmp', () => {
  let sim: ApcSnmpSim;
  beforeAll(async () => {
    sim = await startApcSnmpSim();
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('starts with every outlet on', () => {
    expect(sim.port).toBeGreaterThan(0);
    expect(() => process.kill(sim.pid, 0)).not.toThrow();
    expect([sim.outlet(1), sim.outlet(2)]).toEqual(['on', 'on']);
  });

  it('by number: status / off / status / on / reboot', async () => {
    let r = await agent(sim, 'private', '-n', '1', '-o', 'status');
    expect([r.code, r.stdout]).toEqual([0, 'Status: ON\n']);

    r = await agent(sim, 'private', '-n', '1', '-o', 'off');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered OFF\n']);
    expect([sim.outlet(1), sim.outlet(2)]).toEqual(['off', 'on']);

    r = await agent(sim, 'private', '-n', '1', '-o', 'status');
    expect([r.code, r.stdout]).toEqual([2, 'Status: OFF\n']);

    r = await agent(sim, 'private', '-n', '1', '-o', 'on');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered ON\n']);
    expect(sim.outlet(1)).toBe('on');

    const before = sim.commands().length;
    r = await agent(sim, 'private', '-n', '2', '-o', 'reboot');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Rebooted\n']);
    expect([sim.outlet(1), sim.outlet(2)]).toEqual(['on', 'on']);
    // the PDU records each outlet command SET: ClusterLabs reboots by off, then on
    expect(sim.commands().slice(before)).toEqual(['2 off', '2 on']);
  });

  it('by name: off / status / on, and setOutlet() is what the agent sees', async () => {
    let r = await agent(sim, 'private', '-n', 'node2', '-o', 'off');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered OFF\n']);
    expect([sim.outlet(1), sim.outlet(2)]).toEqual(['on', 'off']);

    r = await agent(sim, 'private', '-n', 'node2', '-o', 'status');
    expect([r.code, r.stdout]).toEqual([2, 'Status: OFF\n']);

    r = await agent(sim, 'private', '-n', 'node2', '-o', 'on');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered ON\n']);
    expect(sim.outlet(2)).toBe('on');

    sim.setOutlet(1, 'off');
    const before = sim.commands().length;
    r = await agent(sim, 'private', '-n', 'node1', '-o', 'status');
    expect([r.code, r.stdout]).toEqual([2, 'Status: OFF\n']);
    // reboot of an outlet that is off ends with it on
    r = await agent(sim, 'private', '-n', 'node1', '-o', 'reboot');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Rebooted\n']);
    expect(sim.outlet(1)).toBe('on');
    expect(sim.commands().slice(before)).toEqual(['1 on']); // setOutlet() is not a command; from off only the on
  });

  it('list and list-status', async () => {
    let r = await agent(sim, 'private', '-o', 'list');
    expect([r.code, r.stdout]).toEqual([0, '1,node1\n2,node2\n']);
    r = await agent(sim, 'private', '-o', 'list-status');
    expect([r.code, r.stdout]).toEqual([0, '1,node1,UNKNOWN\n2,node2,UNKNOWN\n']);
  });

  it('unknown outlet name fails with exit 1', async () => {
    const r = await agent(sim, 'private', '-n', 'nosuch', '-o', 'status');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("Can't find port with name nosuch!");
  });

  it('stdin key=value form and SNMP v2c', async () => {
    const input = `ipaddr=127.0.0.1\nipport=${sim.port}\ncommunity=private\nsnmp_version=2c\nport=2\naction=off\n`;
    let r = await runFence(AGENT, [], input, AGENT_TIMEOUT_MS, process.env);
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered OFF\n']);
    expect(sim.outlet(2)).toBe('off');
    r = await agent(sim, 'private', '-d', '2c', '-n', '2', '-o', 'on');
    expect([r.code, r.stdout]).toEqual([0, 'Success: Powered ON\n']);
    expect(sim.outlet(2)).toBe('on');
  });
});

describe.skipIf(noAgent)('snmpsim APC rPDU fixture options', () => {
  it('custom community, names and outlet count beyond 9; stop() cleans up', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `web-${i + 1}`);
    const sim = await startApcSnmpSim({ community: 'fencing', names });
    try {
      let r = await agent(sim, 'fencing', '-o', 'list');
      expect([r.code, r.stdout]).toEqual([0, names.map((n, i) => `${i + 1},${n}\n`).join('')]);

      r = await agent(sim, 'fencing', '-n', 'web-11', '-o', 'off');
      expect([r.code, r.stdout]).toEqual([0, 'Success: Powered OFF\n']);
      expect([sim.outlet(1), sim.outlet(10), sim.outlet(11), sim.outlet(12)]).toEqual(['on', 'on', 'off', 'on']);

      r = await agent(sim, 'fencing', '-n', '11', '-o', 'status');
      expect([r.code, r.stdout]).toEqual([2, 'Status: OFF\n']);
      r = await agent(sim, 'fencing', '-n', '10', '-o', 'status');
      expect([r.code, r.stdout]).toEqual([0, 'Status: ON\n']);

      expect(() => sim.outlet(13)).toThrow(/no outlet 13/);
    } finally {
      await sim.stop();
    }
    expect(existsSync(sim.stateDir)).toBe(false);
    expect(() => process.kill(sim.pid, 0)).toThrow();
  });

  it('parallel simulators get distinct ports and independent state', async () => {
    const sims = await Promise.all([startApcSnmpSim({ outlets: 1 }), startApcSnmpSim({ outlets: 1 })]);
    try {
      expect(sims[0]!.port).not.toBe(sims[1]!.port);
      sims[1]!.setOutlet(1, 'off');
      const rs = await Promise.all(sims.map((s) => agent(s, 'private', '-n', '1', '-o', 'status')));
      expect(rs.map((r) => [r.code, r.stdout])).toEqual([
        [0, 'Status: ON\n'],
        [2, 'Status: OFF\n'],
      ]);
    } finally {
      await Promise.all(sims.map((s) => s.stop()));
    }
  });
});
