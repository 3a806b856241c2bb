/**
 * fence_drac5 parity: ClusterLabs' agent and ours, same argv/stdin, against the same DRAC simulator over telnet and
 * SSH; stdout lines, exit code, the power changes the device carried out (in order) and its power afterwards must agree.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliDevice } from './fixtures/cli-device/index.js';
import { SSHD } from './fixtures/cli-device/openssh-server.js';
import { SSH_OPTIONS } from './fixtures/cli-device/run-agent.js';
import { cliParity } from './support/cli-parity.js';
import { expectMetadataParity, lines, runFence } from './support/fence-run.js';
import { missing } from './support/peers.js';

const NAME = 'fence_drac5';
const { haveTheirs, device, argv, ours: OURS, ...suite } = cliParity(NAME, 'drac5', 'root', 'calvin');
const noTheirs = () =>
  missing('ClusterLabs fence_drac5 with telnet and ssh (fence-agents, telnet, openssh-client)', !haveTheirs);

/** Theirs then ours, each from the same starting state (plug → on; '' is the single DRAC 5 server). */
const parity = (d: CliDevice, transport: string, args: string[], start: Record<string, boolean>, stdin?: string) =>
  suite.parity(
    d,
    transport,
    args,
    () => Object.entries(start).forEach(([plug, on]) => d.setPower(plug === '' ? undefined : plug, on)),
    stdin,
  );

describe.skipIf(noTheirs()).each(['telnet', 'ssh'] as const)(
  'fence_drac5 parity with ClusterLabs, DRAC 5 over %s',
  (transport) => {
    let d: CliDevice;
    beforeAll(async () => {
      d = await device({ transport });
    });
    // The changes column is what the DRAC carried out: a reboot is a powerdown then a powerup, from off only the powerup.
    it.each([
      ['status of a powered-on server', ['-o', 'status'], true, ['Status: ON'], 0, [], true],
      ['status of a powered-off server', ['-o', 'status'], false, ['Status: OFF'], 2, [], false],
      ['off', ['-o', 'off', '--power-wait', '0'], true, ['Success: Powered OFF'], 0, ['server off'], false],
      ['on', ['-o', 'on', '--power-wait', '0'], false, ['Success: Powered ON'], 0, ['server on'], true],
      ['on when already on', ['-o', 'on'], true, ['Success: Already ON'], 0, [], true],
      [
        'reboot',
        ['-o', 'reboot', '--power-wait', '0'],
        true,
        ['Success: Rebooted'],
        0,
        ['server off', 'server on'],
        true,
      ],
      [
        'reboot of a powered-off server',
        ['-o', 'reboot', '--power-wait', '0'],
        false,
        ['Success: Rebooted'],
        0,
        ['server on'],
        true,
      ],
      ['list (N/A on a DRAC 5)', ['-o', 'list'], true, ['N/A'], 0, [], true],
      ['monitor', ['-o', 'monitor'], false, ['N/A'], 0, [], false],
    ] as const)('%s', async (_what, action, start, expectLines, expectCode, transitions, after) => {
      const { ours } = await parity(d, transport, argv(d, transport, ...action), { '': start });
      expect(ours).toMatchObject({ lines: expectLines, code: expectCode, transitions, after: [after] });
    });

    it('a wrong password fails with exit 1 on both', async () => {
      const args = [
        ...argv(d, transport, '-o', 'status', '--login-timeout', '1', '--shell-timeout', '1'),
        '-p',
        'wrong',
      ];
      const { ours } = await parity(d, transport, args, { '': true });
      expect(ours.code).toBe(1);
      expect(ours.stderr).toMatch(/Unable to connect\/login to fencing device/);
      expect(ours.stderr).not.toContain('wrong');
    });

    it('reads the stdin form', async () => {
      const ssh = transport === 'ssh' ? `ssh=1\nssh_options=${SSH_OPTIONS}\n` : '';
      const stdin = `# from fenced\nipaddr=127.0.0.1\nipport=${d.port}\nlogin=root\npasswd=calvin\n${ssh}action=on\n`;
      const { ours } = await parity(d, transport, [], { '': false }, stdin);
      expect(ours).toMatchObject({
        lines: ['Success: Powered ON'],
        code: 0,
        transitions: ['server on'],
        after: [true],
      });
    });
  },
);

describe.skipIf(noTheirs()).each(['telnet', 'ssh'] as const)('fence_drac5 parity, CMC chassis over %s', (transport) => {
  let d: CliDevice;
  beforeAll(async () => {
    d = await device({ transport, variant: 'cmc' });
  });
  it.each([
    ['status by module', ['-o', 'status', '-n', 'server-2'], ['Status: OFF'], 2, []],
    ['on by module', ['-o', 'on', '-n', 'server-2', '--power-wait', '0'], ['Success: Powered ON'], 0, ['server-2 on']],
    [
      'reboot by module',
      ['-o', 'reboot', '-n', 'server-1', '--power-wait', '0'],
      ['Success: Rebooted'],
      0,
      ['server-1 off', 'server-1 on'],
    ],
    ['list', ['-o', 'list'], ['Chassis,', 'server-1,', 'server-2,'], 0, []],
    ['list-status (ClusterLabs wants a module here)', ['-o', 'list-status'], [], 1, []],
    [
      'list-status with a module',
      ['-o', 'list-status', '-n', 'server-1'],
      ['Chassis,,ON', 'server-1,,ON', 'server-2,,OFF'],
      0,
      [],
    ],
    ['without a module', ['-o', 'status'], [], 1, []],
  ] as const)('%s', async (_what, action, expectLines, expectCode, transitions) => {
    const { ours } = await parity(d, transport, argv(d, transport, ...action), { 'server-1': true, 'server-2': false });
    expect(ours).toMatchObject({ lines: expectLines, code: expectCode, transitions });
  });
});

describe.skipIf(noTheirs())('fence_drac5 parity, DRAC/MC over telnet', () => {
  it('status, off and list', async () => {
    const d = await device({ variant: 'mc' });
    const start = { 'server-1': true, 'server-2': false };
    expect((await parity(d, 'telnet', argv(d, 'telnet', '-o', 'status', '-n', 'server-1'), start)).ours.lines).toEqual([
      'Status: ON',
    ]);
    expect(
      (await parity(d, 'telnet', argv(d, 'telnet', '-o', 'off', '-n', 'server-1', '--power-wait', '0'), start)).ours
        .lines,
    ).toEqual(['Success: Powered OFF']);
    expect((await parity(d, 'telnet', argv(d, 'telnet', '-o', 'list'), start)).ours.lines).toEqual([
      'server-1,',
      'server-2,',
    ]);
  });
});

describe.skipIf(noTheirs() || missing('OpenSSH server (openssh-server)', !existsSync(SSHD)))(
  'fence_drac5 parity over a real OpenSSH sshd',
  () => {
    // sshd -D with its own config and host key; public-key login with an encrypted key whose passphrase is the
    // password option (both agents send it); the host key is checked strictly against a known_hosts listing it.
    let d: CliDevice;
    beforeAll(async () => {
      d = await device({ transport: 'openssh' });
    });
    it.each([
      ['status of a powered-on server', ['-o', 'status'], true, ['Status: ON'], 0, [], true],
      ['status of a powered-off server', ['-o', 'status'], false, ['Status: OFF'], 2, [], false],
      ['off', ['-o', 'off', '--power-wait', '0'], true, ['Success: Powered OFF'], 0, ['server off'], false],
      ['on', ['-o', 'on', '--power-wait', '0'], false, ['Success: Powered ON'], 0, ['server on'], true],
      [
        'reboot',
        ['-o', 'reboot', '--power-wait', '0'],
        true,
        ['Success: Rebooted'],
        0,
        ['server off', 'server on'],
        true,
      ],
    ] as const)('%s', async (_what, action, start, expectLines, expectCode, transitions, after) => {
      const { ours } = await parity(d, 'openssh', argv(d, 'openssh', ...action), { '': start });
      expect(ours).toMatchObject({ lines: expectLines, code: expectCode, transitions, after: [after] });
    });

    it('the stdin form with identity_file', async () => {
      const o = d.openssh!;
      const stdin = `ipaddr=127.0.0.1\nipport=${d.port}\nlogin=${o.user}\npasswd=${o.passphrase}\nssh=1\nidentity_file=${o.identityFile}\nssh_options=-o StrictHostKeyChecking=yes -o UserKnownHostsFile=${o.knownHosts}\naction=off\npower_wait=0\n`;
      const { ours } = await parity(d, 'openssh', [], { '': true }, stdin);
      expect(ours).toMatchObject({
        lines: ['Success: Powered OFF'],
        code: 0,
        transitions: ['server off'],
        after: [false],
      });
    });

    it('a wrong passphrase fails with exit 1 on both, the device untouched', async () => {
      const before = d.commands.length;
      const { ours } = await parity(
        d,
        'openssh',
        [...argv(d, 'openssh', '-o', 'off', '--login-timeout', '2'), '-p', 'wrong-pass'],
        { '': true },
      );
      expect(ours).toMatchObject({ code: 1, transitions: [], after: [true] });
      expect(ours.stderr).toMatch(/Unable to connect\/login to fencing device/);
      expect(ours.stderr).not.toContain('wrong-pass');
      expect(d.commands.length).toBe(before);
    });

    it('a host key other than the one known_hosts lists is refused by both, before any command', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'fence-drac5-kh-'));
      try {
        execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
        const knownHosts = join(dir, 'known_hosts');
        writeFileSync(knownHosts, `[127.0.0.1]:${d.port} ${readFileSync(join(dir, 'other.pub'), 'utf8')}`);
        const args = argv(d, 'openssh', '-o', 'status', '--login-timeout', '2').map((a) =>
          a.replace(d.openssh!.knownHosts, knownHosts),
        );
        const before = d.commands.length;
        const { ours } = await parity(d, 'openssh', args, { '': true });
        expect(ours).toMatchObject({ lines: [], code: 1 });
        expect(d.commands.length).toBe(before);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);

describe('fence_drac5 SSH host keys (ours)', () => {
  it('an unknown host key is refused when ssh_options asks for StrictHostKeyChecking=yes', async () => {
    const d = await device({ transport: 'ssh' });
    const base = [
      '--ip',
      '127.0.0.1',
      '--ipport',
      String(d.port),
      '-l',
      'root',
      '-p',
      'calvin',
      '--ssh',
      '-o',
      'status',
    ];
    const strict = await runFence(OURS, [
      ...base,
      '--ssh-options',
      '-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null',
    ]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/Unable to connect\/login to fencing device/);
    const relaxed = await runFence(OURS, [...base, '--ssh-options', '-o UserKnownHostsFile=/dev/null']);
    expect({ code: relaxed.code, lines: lines(relaxed) }).toEqual({ code: 0, lines: ['Status: ON'] });
    expect(d.commands).toEqual(['racadm serveraction powerstatus', 'exit']);
  });
});

describe('fence_drac5 metadata', () => {
  it('has the same parameters, types, defaults and order as ClusterLabs', async () => {
    const { theirs, ours } = await expectMetadataParity(NAME);
    expect(ours.match(/<action name="([^"]+)"/g)).toEqual(theirs.match(/<action name="([^"]+)"/g));
  });
});
