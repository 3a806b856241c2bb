/**
 * fence_drac5 parity: ClusterLabs' agent and ours, same argv/stdin, against the same DRAC simulator over telnet and
 * SSH; stdout lines, exit code and the device's power afterwards must agree.
 */
import { describe, expect, it } from 'vitest';
import type { CliDevice } from './fixtures/cli-device/index.js';
import { SSH_OPTIONS } from './fixtures/cli-device/run-agent.js';
import { cliParity } from './support/cli-parity.js';
import { expectMetadataParity, lines, runFence } from './support/fence-run.js';

const NAME = 'fence_drac5';
const { haveTheirs, device, argv, ours: OURS, ...suite } = cliParity(NAME, 'drac5', 'root', 'calvin');

/** Theirs then ours, each from the same starting state (plug → on; '' is the single DRAC 5 server). */
const parity = (d: CliDevice, transport: string, args: string[], start: Record<string, boolean>, stdin?: string) =>
  suite.parity(d, transport, args, () => Object.entries(start).forEach(([plug, on]) => d.setPower(plug === '' ? undefined : plug, on)), stdin);

describe.skipIf(!haveTheirs).each(['telnet', 'ssh'] as const)('fence_drac5 parity with ClusterLabs, DRAC 5 over %s', (transport) => {
  let d: CliDevice;
  it('starts the simulator', async () => {
    d = await device({ transport });
  });
  it.each([
    ['status of a powered-on server', ['-o', 'status'], true, ['Status: ON'], 0, true],
    ['status of a powered-off server', ['-o', 'status'], false, ['Status: OFF'], 2, false],
    ['off', ['-o', 'off', '--power-wait', '0'], true, ['Success: Powered OFF'], 0, false],
    ['on', ['-o', 'on', '--power-wait', '0'], false, ['Success: Powered ON'], 0, true],
    ['on when already on', ['-o', 'on'], true, ['Success: Already ON'], 0, true],
    ['reboot', ['-o', 'reboot', '--power-wait', '0'], true, ['Success: Rebooted'], 0, true],
    ['list (N/A on a DRAC 5)', ['-o', 'list'], true, ['N/A'], 0, true],
    ['monitor', ['-o', 'monitor'], false, ['N/A'], 0, false],
  ] as const)('%s', async (_what, action, start, expectLines, expectCode, after) => {
    const { ours } = await parity(d, transport, argv(d, transport, ...action), { '': start });
    expect(ours).toMatchObject({ lines: expectLines, code: expectCode, after: [after] });
  });

  it('a wrong password fails with exit 1 on both', async () => {
    const args = [...argv(d, transport, '-o', 'status', '--login-timeout', '1', '--shell-timeout', '1'), '-p', 'wrong'];
    const { ours } = await parity(d, transport, args, { '': true });
    expect(ours.code).toBe(1);
    expect(ours.stderr).toMatch(/Unable to connect\/login to fencing device/);
    expect(ours.stderr).not.toContain('wrong');
  });

  it('reads the stdin form', async () => {
    const ssh = transport === 'ssh' ? `ssh=1\nssh_options=${SSH_OPTIONS}\n` : '';
    const stdin = `# from fenced\nipaddr=127.0.0.1\nipport=${d.port}\nlogin=root\npasswd=calvin\n${ssh}action=on\n`;
    const { ours } = await parity(d, transport, [], { '': false }, stdin);
    expect(ours).toMatchObject({ lines: ['Success: Powered ON'], code: 0, after: [true] });
  });
});

describe.skipIf(!haveTheirs).each(['telnet', 'ssh'] as const)('fence_drac5 parity, CMC chassis over %s', (transport) => {
  let d: CliDevice;
  it('starts the simulator', async () => {
    d = await device({ transport, variant: 'cmc' });
  });
  it.each([
    ['status by module', ['-o', 'status', '-n', 'server-2'], ['Status: OFF'], 2],
    ['on by module', ['-o', 'on', '-n', 'server-2', '--power-wait', '0'], ['Success: Powered ON'], 0],
    ['list', ['-o', 'list'], ['Chassis,', 'server-1,', 'server-2,'], 0],
    ['list-status (ClusterLabs wants a module here)', ['-o', 'list-status'], [], 1],
    ['list-status with a module', ['-o', 'list-status', '-n', 'server-1'], ['Chassis,,ON', 'server-1,,ON', 'server-2,,OFF'], 0],
    ['without a module', ['-o', 'status'], [], 1],
  ] as const)('%s', async (_what, action, expectLines, expectCode) => {
    const { ours } = await parity(d, transport, argv(d, transport, ...action), { 'server-1': true, 'server-2': false });
    expect(ours).toMatchObject({ lines: expectLines, code: expectCode });
  });
});

describe.skipIf(!haveTheirs)('fence_drac5 parity, DRAC/MC over telnet', () => {
  it('status, off and list', async () => {
    const d = await device({ variant: 'mc' });
    const start = { 'server-1': true, 'server-2': false };
    expect((await parity(d, 'telnet', argv(d, 'telnet', '-o', 'status', '-n', 'server-1'), start)).ours.lines).toEqual(['Status: ON']);
    expect((await parity(d, 'telnet', argv(d, 'telnet', '-o', 'off', '-n', 'server-1', '--power-wait', '0'), start)).ours.lines).toEqual(['Success: Powered OFF']);
    expect((await parity(d, 'telnet', argv(d, 'telnet', '-o', 'list'), start)).ours.lines).toEqual(['server-1,', 'server-2,']);
  });
});

describe('fence_drac5 SSH host keys (ours)', () => {
  it('an unknown host key is refused when ssh_options asks for StrictHostKeyChecking=yes', async () => {
    const d = await device({ transport: 'ssh' });
    const base = ['--ip', '127.0.0.1', '--ipport', String(d.port), '-l', 'root', '-p', 'calvin', '--ssh', '-o', 'status'];
    const strict = await runFence(OURS, [...base, '--ssh-options', '-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null']);
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
