/**
 * fence_apc parity (AOS v5+ command line and the AOS v3 menu UI): ClusterLabs' agent and ours, same argv/stdin, against the same APC
 * simulator over telnet and SSH; stdout lines, exit code, the outlet switchings the device carried out (in order) and every outlet's
 * power afterwards must agree.
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliDevice } from './fixtures/cli-device/index.js';
import { SSHD } from './fixtures/cli-device/openssh-server.js';
import { SSH_OPTIONS } from './fixtures/cli-device/run-agent.js';
import { cliParity } from './support/cli-parity.js';
import { expectMetadataParity } from './support/fence-run.js';
import { missing } from './support/peers.js';

const NAME = 'fence_apc';
const { haveTheirs, device, argv, ...suite } = cliParity(NAME, 'apc', 'apc', 'apc');
const noTheirs = () =>
  missing('ClusterLabs fence_apc with telnet and ssh (fence-agents, telnet, openssh-client)', !haveTheirs);

const START = [true, false, true, false];

/** Theirs then ours, each from the outlet states START. */
const parity = (d: CliDevice, transport: string, args: string[], stdin?: string) =>
  suite.parity(d, transport, args, () => START.forEach((on, i) => d.setPower(String(i + 1), on)), stdin);

describe.skipIf(noTheirs()).each(['telnet', 'ssh'] as const)(
  'fence_apc parity with ClusterLabs, AOS v6 CLI over %s',
  (transport) => {
    let d: CliDevice;
    beforeAll(async () => {
      d = await device({ transport });
    });
    // The switchings column is what the device carried out: a reboot is an off then an on (from off, only the on).
    it.each([
      ['status of an outlet that is on', ['-n', '1', '-o', 'status'], ['Status: ON'], 0, [], START],
      ['status of an outlet that is off', ['-n', '2', '-o', 'status'], ['Status: OFF'], 2, [], START],
      [
        'off',
        ['-n', '3', '-o', 'off', '--power-wait', '0'],
        ['Success: Powered OFF'],
        0,
        ['3 off'],
        [true, false, false, false],
      ],
      [
        'on',
        ['-n', '4', '-o', 'on', '--power-wait', '0'],
        ['Success: Powered ON'],
        0,
        ['4 on'],
        [true, false, true, true],
      ],
      ['off when already off', ['-n', '2', '-o', 'off'], ['Success: Already OFF'], 0, [], START],
      ['reboot', ['-n', '1', '-o', 'reboot', '--power-wait', '0'], ['Success: Rebooted'], 0, ['1 off', '1 on'], START],
      [
        'reboot of an outlet that is off',
        ['-n', '2', '-o', 'reboot', '--power-wait', '0'],
        ['Success: Rebooted'],
        0,
        ['2 on'],
        [true, true, true, false],
      ],
      [
        'several plugs',
        ['-n', '1,3', '-o', 'off', '--power-wait', '0'],
        ['Success: Powered OFF'],
        0,
        ['1 off', '3 off'],
        [false, false, false, false],
      ],
      ['old switch:plug form', ['-n', '1:2', '-o', 'status'], ['Status: OFF'], 2, [], START],
      ['list', ['-o', 'list'], ['1,Outlet 1', '2,Outlet 2', '3,Outlet 3', '4,Outlet 4'], 0, [], START],
      [
        'list-status',
        ['-o', 'list-status'],
        ['1,Outlet 1,On', '2,Outlet 2,Off', '3,Outlet 3,On', '4,Outlet 4,Off'],
        0,
        [],
        START,
      ],
      ['monitor', ['-o', 'monitor'], [], 0, [], START],
      ['an outlet that does not exist', ['-n', '9', '-o', 'status'], [], 1, [], START],
    ] as const)('%s', async (_what, action, expectLines, expectCode, transitions, after) => {
      const { ours } = await parity(d, transport, argv(d, transport, ...action));
      expect(ours).toMatchObject({ lines: expectLines, code: expectCode, transitions, after });
    });

    it('a wrong password fails with exit 1 on both', async () => {
      const args = [
        ...argv(d, transport, '-n', '1', '-o', 'status', '--login-timeout', '1', '--shell-timeout', '1'),
        '-p',
        'wrong',
      ];
      const { ours } = await parity(d, transport, args);
      expect(ours.code).toBe(1);
      expect(ours.stderr).toMatch(/Unable to connect\/login to fencing device/);
      expect(ours.stderr).not.toContain('wrong');
    });

    it('reads the stdin form', async () => {
      const ssh = transport === 'ssh' ? `ssh=1\nssh_options=${SSH_OPTIONS}\n` : '';
      const stdin = `# from fenced\nipaddr=127.0.0.1\nipport=${d.port}\nlogin=apc\npasswd=apc\n${ssh}port=2\naction=on\npower_wait=0\n`;
      const { ours } = await parity(d, transport, [], stdin);
      expect(ours).toMatchObject({
        lines: ['Success: Powered ON'],
        code: 0,
        transitions: ['2 on'],
        after: [true, true, true, false],
      });
    });
  },
);

describe.skipIf(noTheirs()).each(['telnet', 'ssh'] as const)(
  'fence_apc parity with ClusterLabs, AOS v3 menu UI over %s',
  (transport) => {
    let d: CliDevice;
    beforeAll(async () => {
      d = await device({ transport, ui: 'menu' });
    });
    it.each([
      ['status of an outlet that is on', ['-n', '1', '-o', 'status'], ['Status: ON'], 0, [], START],
      ['status of an outlet that is off', ['-n', '2', '-o', 'status'], ['Status: OFF'], 2, [], START],
      [
        'off (through the YES confirmation)',
        ['-n', '3', '-o', 'off', '--power-wait', '0'],
        ['Success: Powered OFF'],
        0,
        ['3 off'],
        [true, false, false, false],
      ],
      [
        'on',
        ['-n', '4', '-o', 'on', '--power-wait', '0'],
        ['Success: Powered ON'],
        0,
        ['4 on'],
        [true, false, true, true],
      ],
      ['reboot', ['-n', '1', '-o', 'reboot', '--power-wait', '0'], ['Success: Rebooted'], 0, ['1 off', '1 on'], START],
      ['list', ['-o', 'list'], ['1,Outlet 1', '2,Outlet 2', '3,Outlet 3', '4,Outlet 4'], 0, [], START],
      // The menu writes states in capitals and both agents print them as given.
      [
        'list-status',
        ['-o', 'list-status'],
        ['1,Outlet 1,ON', '2,Outlet 2,OFF', '3,Outlet 3,ON', '4,Outlet 4,OFF'],
        0,
        [],
        START,
      ],
      ['an outlet that does not exist', ['-n', '9', '-o', 'status'], [], 1, [], START],
    ] as const)('%s', async (_what, action, expectLines, expectCode, transitions, after) => {
      const { ours } = await parity(
        d,
        `${transport} menu`,
        argv(d, transport, ...action, '--shell-timeout', '5', '--power-timeout', '10'),
      );
      expect(ours).toMatchObject({ lines: expectLines, code: expectCode, transitions, after });
    });

    it('the off went through the menu confirmation', () => {
      expect(d.commands).toContain('YES');
    });
  },
);

describe
  .skipIf(noTheirs() || missing('OpenSSH server (openssh-server)', !existsSync(SSHD)))
  .each(['cli', 'menu'] as const)('fence_apc parity over a real OpenSSH sshd, AOS %s UI', (ui) => {
  // sshd -D with its own config and host key; public-key login with an encrypted key whose passphrase is the
  // password option (both agents send it); the host key is checked strictly against a known_hosts listing it.
  let d: CliDevice;
  beforeAll(async () => {
    d = await device({ transport: 'openssh', ui });
  });
  const slow = ui === 'menu' ? ['--shell-timeout', '5', '--power-timeout', '10'] : [];
  it.each([
    ['status', ['-n', '1', '-o', 'status'], ['Status: ON'], 0, [], START],
    [
      'off',
      ['-n', '3', '-o', 'off', '--power-wait', '0'],
      ['Success: Powered OFF'],
      0,
      ['3 off'],
      [true, false, false, false],
    ],
    ['reboot', ['-n', '1', '-o', 'reboot', '--power-wait', '0'], ['Success: Rebooted'], 0, ['1 off', '1 on'], START],
    ['list', ['-o', 'list'], ['1,Outlet 1', '2,Outlet 2', '3,Outlet 3', '4,Outlet 4'], 0, [], START],
  ] as const)('%s', async (_what, action, expectLines, expectCode, transitions, after) => {
    const { ours } = await parity(d, `openssh ${ui}`, argv(d, 'openssh', ...action, ...slow));
    expect(ours).toMatchObject({ lines: expectLines, code: expectCode, transitions, after });
  });

  it('a wrong passphrase fails with exit 1 on both, the PDU untouched', async () => {
    const before = d.commands.length;
    const { ours } = await parity(d, `openssh ${ui}`, [
      ...argv(d, 'openssh', '-n', '1', '-o', 'off', '--login-timeout', '2'),
      '-p',
      'wrong-pass',
    ]);
    expect(ours).toMatchObject({ code: 1, transitions: [], after: START });
    expect(ours.stderr).not.toContain('wrong-pass');
    expect(d.commands.length).toBe(before);
  });
});

describe('fence_apc metadata', () => {
  it('has the same parameters, types, defaults and order as ClusterLabs', async () => {
    const { theirs, ours } = await expectMetadataParity(NAME);
    expect(ours.match(/<action name="([^"]+)"/g)).toEqual(theirs.match(/<action name="([^"]+)"/g));
  });
});
