/**
 * Proof that the APC PDU simulator (test/fixtures/cli-device, AOS v5+ command
 * line) is faithful: the real ClusterLabs /usr/sbin/fence_apc (Debian
 * fence-agents) runs against it over telnet and SSH and gets the outputs and
 * exit codes of docs/fence.md, "What ClusterLabs' agents print and return".
 */
import { existsSync } from 'node:fs';
import { describe, expect, it, type TestContext } from 'vitest';
import type { CliDevice, CliDeviceOptions } from './fixtures/cli-device/index.js';
import { agentArgs, deviceForTest, runAgent } from './fixtures/cli-device/run-agent.js';
import { missing } from './support/peers.js';

const AGENT = '/usr/sbin/fence_apc';
const noAgent = missing(
  'ClusterLabs fence_apc with telnet and ssh (fence-agents, telnet, openssh-client)',
  !(existsSync(AGENT) && existsSync('/usr/bin/telnet') && existsSync('/usr/bin/ssh')),
);

const device = (t: TestContext, opts: Partial<CliDeviceOptions> = {}) =>
  deviceForTest(t, { device: 'apc', transport: 'telnet', ...opts });
const args = (d: CliDevice, transport: 'telnet' | 'ssh', ...rest: string[]) =>
  agentArgs(d, transport, 'apc', 'apc', ...rest);

const LOGIN_FAILED = /ERROR: Unable to connect\/login to fencing device/;
const ALL_STATUS = '1,Outlet 1,On\n2,Outlet 2,Off\n3,Outlet 3,On\n4,Outlet 4,Off\n';

describe.skipIf(noAgent).concurrent.each(['telnet', 'ssh'] as const)('fence_apc vs AOS v6 CLI over %s', (transport) => {
  it('status ON exits 0, status OFF exits 2', async (t) => {
    const d = await device(t, { transport });
    const on = await runAgent(AGENT, args(d, transport, '-n', '1', '-o', 'status'));
    expect(on).toMatchObject({ code: 0, stdout: 'Status: ON\n' });
    const off = await runAgent(AGENT, args(d, transport, '-n', '2', '-o', 'status'));
    expect(off).toMatchObject({ code: 2, stdout: 'Status: OFF\n' });
    // The logout "4" is sent right before the agent hangs up; over SSH it may never arrive.
    expect(d.commands.filter((c) => c !== '4')).toEqual(['olStatus all', 'olStatus all']);
  });

  it('off then on change only the addressed outlet', async (t) => {
    const d = await device(t, { transport });
    const off = await runAgent(AGENT, args(d, transport, '-n', '3', '-o', 'off', '--power-wait', '0'));
    expect(off).toMatchObject({ code: 0, stdout: 'Success: Powered OFF\n' });
    expect(d.outlets.map((o) => o.on)).toEqual([true, false, false, false]);
    const on = await runAgent(AGENT, args(d, transport, '-n', '4', '-o', 'on', '--power-wait', '0'));
    expect(on).toMatchObject({ code: 0, stdout: 'Success: Powered ON\n' });
    expect(d.outlets.map((o) => o.on)).toEqual([true, false, false, true]);
    expect(d.commands).toContain('olOff 3');
    expect(d.commands).toContain('olOn 4');
  });

  it('reboot, list and list-status', async (t) => {
    const d = await device(t, { transport });
    const r = await runAgent(AGENT, args(d, transport, '-n', '1', '-o', 'reboot', '--power-wait', '0'));
    expect(r).toMatchObject({ code: 0, stdout: 'Success: Rebooted\n' });
    expect(d.power('1')).toBe(true);
    expect(d.commands.filter((c) => c.startsWith('olO'))).toEqual(['olOff 1', 'olOn 1']);
    expect(d.transitions).toEqual(['1 off', '1 on']);
    const list = await runAgent(AGENT, args(d, transport, '-o', 'list'));
    expect(list).toMatchObject({ code: 0, stdout: '1,Outlet 1\n2,Outlet 2\n3,Outlet 3\n4,Outlet 4\n' });
    const ls = await runAgent(AGENT, args(d, transport, '-o', 'list-status'));
    expect(ls).toMatchObject({ code: 0, stdout: ALL_STATUS });
  });

  it('wrong password exits 1', async (t) => {
    const d = await device(t, { transport });
    const r = await runAgent(AGENT, [
      ...args(d, transport, '-n', '1', '-o', 'status', '--login-timeout', '1', '--shell-timeout', '1'),
      '-p',
      'wrong',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(LOGIN_FAILED);
    expect(d.commands).toEqual([]);
  });
});

describe.skipIf(noAgent).concurrent('fence_apc details', () => {
  it('accepts the stdin key=value form (with a separator and named outlets)', async (t) => {
    const d = await device(t, {
      outlets: [
        { id: '1', name: 'node1', on: true },
        { id: '2', name: 'node2 psu', on: true },
      ],
    });
    const stdin = `ipaddr=127.0.0.1\nipport=${d.port}\nlogin=apc\npasswd=apc\nport=2\naction=off\n`;
    const off = await runAgent(AGENT, [], { stdin });
    expect(off).toMatchObject({ code: 0, stdout: 'Success: Powered OFF\n' });
    expect(d.power('2')).toBe(false);
    const ls = await runAgent(AGENT, [], {
      stdin: `ip=127.0.0.1\nipport=${d.port}\nusername=apc\npassword=apc\naction=list-status\nseparator=;\n`,
    });
    expect(ls).toMatchObject({ code: 0, stdout: '1;node1;On\n2;node2 psu;Off\n' });
  });

  it('an unknown outlet fails with exit 1', async (t) => {
    const d = await device(t);
    const r = await runAgent(AGENT, args(d, 'telnet', '-n', '9', '-o', 'status'));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Failed: Unable to obtain correct plug status or plug is not available');
  });

  it('already-off outlet is reported without a set command', async (t) => {
    const d = await device(t);
    const r = await runAgent(AGENT, args(d, 'telnet', '-n', '2', '-o', 'off'));
    expect(r).toMatchObject({ code: 0, stdout: 'Success: Already OFF\n' });
    expect(d.commands.filter((c) => c !== '4')).toEqual(['olStatus all']);
  });

  it.for(['v5.1.9', 'v7.0.4'])('AOS %s banner selects the CLI too', async (firmware, t) => {
    const d = await device(t, { firmware });
    const r = await runAgent(AGENT, args(d, 'telnet', '-o', 'list-status'));
    expect(r).toMatchObject({ code: 0, stdout: ALL_STATUS });
  });

  it('the default ssh options (-1 -c blowfish) fail on modern OpenSSH', async (t) => {
    const d = await device(t, { transport: 'ssh' });
    const r = await runAgent(AGENT, [...args(d, 'telnet', '-n', '1', '-o', 'status'), '--ssh']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(LOGIN_FAILED);
  });
});

describe.skipIf(noAgent).concurrent.each(['telnet', 'ssh'] as const)(
  'fence_apc vs AOS v3 menu UI over %s',
  (transport) => {
    it('status, off through the YES confirmation, list-status', async (t) => {
      const d = await device(t, { transport, ui: 'menu' });
      const st = await runAgent(AGENT, args(d, transport, '-n', '2', '-o', 'status'));
      expect(st).toMatchObject({ code: 2, stdout: 'Status: OFF\n' });
      const off = await runAgent(AGENT, args(d, transport, '-n', '1', '-o', 'off', '--power-wait', '0'));
      expect(off).toMatchObject({ code: 0, stdout: 'Success: Powered OFF\n' });
      expect(d.power('1')).toBe(false);
      expect(d.commands).toContain('YES');
      const ls = await runAgent(AGENT, args(d, transport, '-o', 'list-status'));
      // The menu shows states in capitals and the agent prints them as given.
      expect(ls).toMatchObject({ code: 0, stdout: '1,Outlet 1,OFF\n2,Outlet 2,OFF\n3,Outlet 3,ON\n4,Outlet 4,OFF\n' });
    });
  },
);
