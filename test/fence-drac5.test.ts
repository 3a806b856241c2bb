/**
 * fence_drac5 parity: ClusterLabs' agent and ours, same argv/stdin, against the same DRAC simulator over telnet and
 * SSH; stdout lines, exit code and the device's power afterwards must agree.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliDevice, type CliDeviceOptions, startCliDevice } from './fixtures/cli-device/index.js';
import { agentArgs, SSH_OPTIONS } from './fixtures/cli-device/run-agent.js';
import { lines, ourAgent, parameterTable, runFence, theirAgent } from './support/fence-run.js';

const NAME = 'fence_drac5';
const OURS = ourAgent(NAME);
const haveTheirs = existsSync(theirAgent(NAME)) && existsSync('/usr/bin/telnet') && existsSync('/usr/bin/ssh');
const timings: { agent: string; transport: string; action: string; theirs: number; ours: number }[] = [];

const devices: CliDevice[] = [];
async function device(opts: Partial<CliDeviceOptions>): Promise<CliDevice> {
  const d = await startCliDevice({ device: 'drac5', transport: 'telnet', ...opts });
  devices.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(devices.map((d) => d.close()));
  console.table(timings.map((t) => ({ ...t, theirs: Math.round(t.theirs), ours: Math.round(t.ours) })));
});

// agentArgs adds SSH options that today's OpenSSH accepts (fence_apc's default `-1 -c blowfish` it refuses).
const argv = (d: CliDevice, transport: 'telnet' | 'ssh', ...rest: string[]) => agentArgs(d, transport, 'root', 'calvin', ...rest);

/** Runs theirs then ours from the same starting state (plug → on) and compares lines, exit code and state after. */
async function parity(d: CliDevice, transport: string, args: string[], start: Record<string, boolean>, stdin?: string) {
  const results = [];
  for (const program of [theirAgent(NAME), OURS]) {
    for (const [plug, on] of Object.entries(start)) d.setPower(plug === '' ? undefined : plug, on);
    const r = await runFence(program, args, stdin, 25_000);
    results.push({ lines: lines(r), code: r.code, after: d.outlets.map((o) => o.on), stderr: r.stderr, ms: r.ms });
  }
  const [theirs, ours] = results as [(typeof results)[0], (typeof results)[0]];
  expect({ lines: ours.lines, code: ours.code, after: ours.after }, `ours stderr: ${ours.stderr}\ntheirs stderr: ${theirs.stderr}`).toEqual({
    lines: theirs.lines,
    code: theirs.code,
    after: theirs.after,
  });
  const action = args[args.indexOf('-o') + 1] ?? (stdin ? 'stdin' : '?');
  timings.push({ agent: NAME, transport, action: `${action}${stdin ? ' (stdin)' : ''}`, theirs: theirs.ms, ours: ours.ms });
  return { theirs, ours };
}

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
    const [theirs, ours] = await Promise.all([runFence(theirAgent(NAME), ['-o', 'metadata']), runFence(OURS, ['-o', 'metadata'])]);
    expect(ours.code).toBe(0);
    expect(parameterTable(ours.stdout)).toEqual(parameterTable(theirs.stdout));
    expect(ours.stdout).toContain(`<resource-agent name="${NAME}"`);
    expect(ours.stdout.match(/<action name="([^"]+)"/g)).toEqual(theirs.stdout.match(/<action name="([^"]+)"/g));
  });
});
