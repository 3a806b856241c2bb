/**
 * fence_apc parity (AOS v5+ command line and the AOS v3 menu UI): ClusterLabs' agent and ours, same argv/stdin, against the same APC
 * simulator over telnet and SSH; stdout lines, exit code and every outlet's power afterwards must agree.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliDevice, type CliDeviceOptions, startCliDevice } from './fixtures/cli-device/index.js';
import { agentArgs, SSH_OPTIONS } from './fixtures/cli-device/run-agent.js';
import { lines, ourAgent, parameterTable, runFence, theirAgent } from './support/fence-run.js';

const NAME = 'fence_apc';
const OURS = ourAgent(NAME);
const haveTheirs = existsSync(theirAgent(NAME)) && existsSync('/usr/bin/telnet') && existsSync('/usr/bin/ssh');
const timings: { agent: string; transport: string; action: string; theirs: number; ours: number }[] = [];

const devices: CliDevice[] = [];
async function device(opts: Partial<CliDeviceOptions>): Promise<CliDevice> {
  const d = await startCliDevice({ device: 'apc', transport: 'telnet', ...opts });
  devices.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(devices.map((d) => d.close()));
  console.table(timings.map((t) => ({ ...t, theirs: Math.round(t.theirs), ours: Math.round(t.ours) })));
});

// agentArgs adds SSH options that today's OpenSSH accepts (fence_apc's default `-1 -c blowfish` it refuses).
const argv = (d: CliDevice, transport: 'telnet' | 'ssh', ...rest: string[]) => agentArgs(d, transport, 'apc', 'apc', ...rest);

const START = [true, false, true, false];

/** Runs theirs then ours from the same outlet states and compares lines, exit code and outlet states after. */
async function parity(d: CliDevice, transport: string, args: string[], stdin?: string) {
  const results = [];
  for (const program of [theirAgent(NAME), OURS]) {
    START.forEach((on, i) => d.setPower(String(i + 1), on));
    const r = await runFence(program, args, stdin, 25_000);
    results.push({ lines: lines(r), code: r.code, after: d.outlets.map((o) => o.on), stderr: r.stderr, ms: r.ms });
  }
  const [theirs, ours] = results as [(typeof results)[0], (typeof results)[0]];
  expect({ lines: ours.lines, code: ours.code, after: ours.after }, `ours stderr: ${ours.stderr}\ntheirs stderr: ${theirs.stderr}`).toEqual({
    lines: theirs.lines,
    code: theirs.code,
    after: theirs.after,
  });
  const action = stdin ? 'stdin' : (args[args.indexOf('-o') + 1] ?? '?');
  timings.push({ agent: NAME, transport, action, theirs: theirs.ms, ours: ours.ms });
  return { theirs, ours };
}

describe.skipIf(!haveTheirs).each(['telnet', 'ssh'] as const)('fence_apc parity with ClusterLabs, AOS v6 CLI over %s', (transport) => {
  let d: CliDevice;
  it('starts the simulator', async () => {
    d = await device({ transport });
  });
  it.each([
    ['status of an outlet that is on', ['-n', '1', '-o', 'status'], ['Status: ON'], 0, START],
    ['status of an outlet that is off', ['-n', '2', '-o', 'status'], ['Status: OFF'], 2, START],
    ['off', ['-n', '3', '-o', 'off', '--power-wait', '0'], ['Success: Powered OFF'], 0, [true, false, false, false]],
    ['on', ['-n', '4', '-o', 'on', '--power-wait', '0'], ['Success: Powered ON'], 0, [true, false, true, true]],
    ['off when already off', ['-n', '2', '-o', 'off'], ['Success: Already OFF'], 0, START],
    ['reboot', ['-n', '1', '-o', 'reboot', '--power-wait', '0'], ['Success: Rebooted'], 0, START],
    ['reboot of an outlet that is off', ['-n', '2', '-o', 'reboot', '--power-wait', '0'], ['Success: Rebooted'], 0, [true, true, true, false]],
    ['several plugs', ['-n', '1,3', '-o', 'off', '--power-wait', '0'], ['Success: Powered OFF'], 0, [false, false, false, false]],
    ['old switch:plug form', ['-n', '1:2', '-o', 'status'], ['Status: OFF'], 2, START],
    ['list', ['-o', 'list'], ['1,Outlet 1', '2,Outlet 2', '3,Outlet 3', '4,Outlet 4'], 0, START],
    ['list-status', ['-o', 'list-status'], ['1,Outlet 1,On', '2,Outlet 2,Off', '3,Outlet 3,On', '4,Outlet 4,Off'], 0, START],
    ['monitor', ['-o', 'monitor'], [], 0, START],
    ['an outlet that does not exist', ['-n', '9', '-o', 'status'], [], 1, START],
  ] as const)('%s', async (_what, action, expectLines, expectCode, after) => {
    const { ours } = await parity(d, transport, argv(d, transport, ...action));
    expect(ours).toMatchObject({ lines: expectLines, code: expectCode, after });
  });

  it('a wrong password fails with exit 1 on both', async () => {
    const args = [...argv(d, transport, '-n', '1', '-o', 'status', '--login-timeout', '1', '--shell-timeout', '1'), '-p', 'wrong'];
    const { ours } = await parity(d, transport, args);
    expect(ours.code).toBe(1);
    expect(ours.stderr).toMatch(/Unable to connect\/login to fencing device/);
    expect(ours.stderr).not.toContain('wrong');
  });

  it('reads the stdin form', async () => {
    const ssh = transport === 'ssh' ? `ssh=1\nssh_options=${SSH_OPTIONS}\n` : '';
    const stdin = `# from fenced\nipaddr=127.0.0.1\nipport=${d.port}\nlogin=apc\npasswd=apc\n${ssh}port=2\naction=on\npower_wait=0\n`;
    const { ours } = await parity(d, transport, [], stdin);
    expect(ours).toMatchObject({ lines: ['Success: Powered ON'], code: 0, after: [true, true, true, false] });
  });
});

describe.skipIf(!haveTheirs).each(['telnet', 'ssh'] as const)('fence_apc parity with ClusterLabs, AOS v3 menu UI over %s', (transport) => {
  let d: CliDevice;
  it('starts the simulator', async () => {
    d = await device({ transport, ui: 'menu' });
  });
  it.each([
    ['status of an outlet that is on', ['-n', '1', '-o', 'status'], ['Status: ON'], 0, START],
    ['status of an outlet that is off', ['-n', '2', '-o', 'status'], ['Status: OFF'], 2, START],
    ['off (through the YES confirmation)', ['-n', '3', '-o', 'off', '--power-wait', '0'], ['Success: Powered OFF'], 0, [true, false, false, false]],
    ['on', ['-n', '4', '-o', 'on', '--power-wait', '0'], ['Success: Powered ON'], 0, [true, false, true, true]],
    ['reboot', ['-n', '1', '-o', 'reboot', '--power-wait', '0'], ['Success: Rebooted'], 0, START],
    ['list', ['-o', 'list'], ['1,Outlet 1', '2,Outlet 2', '3,Outlet 3', '4,Outlet 4'], 0, START],
    // The menu writes states in capitals and both agents print them as given.
    ['list-status', ['-o', 'list-status'], ['1,Outlet 1,ON', '2,Outlet 2,OFF', '3,Outlet 3,ON', '4,Outlet 4,OFF'], 0, START],
    ['an outlet that does not exist', ['-n', '9', '-o', 'status'], [], 1, START],
  ] as const)('%s', async (_what, action, expectLines, expectCode, after) => {
    const { ours } = await parity(d, `${transport} menu`, argv(d, transport, ...action, '--shell-timeout', '5', '--power-timeout', '10'));
    expect(ours).toMatchObject({ lines: expectLines, code: expectCode, after });
  });

  it('the off went through the menu confirmation', () => {
    expect(d.commands).toContain('YES');
  });
});

describe('fence_apc metadata', () => {
  it('has the same parameters, types, defaults and order as ClusterLabs', async () => {
    const [theirs, ours] = await Promise.all([runFence(theirAgent(NAME), ['-o', 'metadata']), runFence(OURS, ['-o', 'metadata'])]);
    expect(ours.code).toBe(0);
    expect(parameterTable(ours.stdout)).toEqual(parameterTable(theirs.stdout));
    expect(ours.stdout).toContain(`<resource-agent name="${NAME}"`);
    expect(ours.stdout.match(/<action name="([^"]+)"/g)).toEqual(theirs.stdout.match(/<action name="([^"]+)"/g));
  });
});
