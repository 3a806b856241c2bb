import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IpmiSim, startIpmiSim } from './fixtures/ipmi-sim.js';
import { expectMetadataParity, lines, ourAgent, runFence, theirAgent } from './support/fence-run.js';
import { missing } from './support/peers.js';

const USER = 'admin';
const PASSWORD = 'Secr3t-pw_42';
const IPMITOOL = '/usr/bin/ipmitool';
let sim: IpmiSim;

/** `-o status` against the simulator, every option but the password (the tests give it their own way). */
const statusWithoutPassword = () => [
  '--ip',
  '127.0.0.1',
  '--ipport',
  String(sim.port),
  '-l',
  USER,
  '--lanplus',
  '-C',
  '3',
  '-o',
  'status',
];
const dir = mkdtempSync(join(tmpdir(), 'fence-ipmilan-'));

beforeAll(async () => {
  sim = await startIpmiSim({ user: USER, password: PASSWORD });
});

afterAll(async () => {
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const noTheirs = missing('ClusterLabs fence_ipmilan (fence-agents)', !existsSync(theirAgent('fence_ipmilan')));

const argv = (...extra: string[]) => [
  '--ip',
  '127.0.0.1',
  '--ipport',
  String(sim.port),
  '-l',
  USER,
  '-p',
  PASSWORD,
  '--lanplus',
  '-C',
  '3',
  '--power-wait',
  '0',
  ...extra,
];

/** The chassis controls ipmi_sim carried out during `run`: "power 0" (off), "power 1" (on), ... in order. */
async function transitionsDuring<T>(run: () => Promise<T>): Promise<{ result: T; transitions: string[] }> {
  const before = sim.transitions().length;
  const result = await run();
  return { result, transitions: sim.transitions().slice(before) };
}

/**
 * Runs both agents from the same starting power state and checks they agree on output, exit code, the chassis
 * controls the BMC carried out (in order: a reboot is an off then an on) and the power afterwards.
 */
async function parity(name: string, args: string[], start: 'on' | 'off', stdin?: string) {
  const results = [];
  for (const program of [theirAgent(name), ourAgent(name)]) {
    sim.setPower(start);
    const { result: r, transitions } = await transitionsDuring(() => runFence(program, args, stdin));
    results.push({ lines: lines(r), code: r.code, transitions, after: sim.power(), stderr: r.stderr });
  }
  const [theirs, ours] = results;
  const seen = (x: typeof ours) => ({ lines: x!.lines, code: x!.code, transitions: x!.transitions, after: x!.after });
  expect(seen(ours), `ours stderr: ${ours!.stderr}\ntheirs stderr: ${theirs!.stderr}`).toEqual(seen(theirs));
  return { theirs: theirs!, ours: ours! };
}

/** An executable shell script in this file's temp dir. */
function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}`, { mode: 0o755 });
  return path;
}

describe.skipIf(noTheirs)('fence_ipmilan parity with ClusterLabs against ipmi_sim', () => {
  // The controls column is what the BMC carried out: a reboot is "power 0" then "power 1" (from off, only the on).
  it.each([
    ['status of a powered-on host', ['-o', 'status'], 'on', ['Status: ON'], 0, [], 'on'],
    ['status of a powered-off host', ['-o', 'status'], 'off', ['Status: OFF'], 2, [], 'off'],
    ['off', ['-o', 'off'], 'on', ['Success: Powered OFF'], 0, ['power 0'], 'off'],
    ['off when already off', ['-o', 'off'], 'off', ['Success: Already OFF'], 0, [], 'off'],
    ['on', ['-o', 'on'], 'off', ['Success: Powered ON'], 0, ['power 1'], 'on'],
    ['reboot', ['-o', 'reboot'], 'on', ['Success: Rebooted'], 0, ['power 0', 'power 1'], 'on'],
    ['reboot of a powered-off host', ['-o', 'reboot'], 'off', ['Success: Rebooted'], 0, ['power 1'], 'on'],
    ['monitor', ['-o', 'monitor'], 'off', [], 0, [], 'off'],
    ['list', ['-o', 'list'], 'on', ['NOTICE: List option is not working on this device yet'], 0, [], 'on'],
    ['diag, which ipmi_sim refuses', ['-o', 'diag'], 'on', [], 1, [], 'on'],
  ] as const)('%s', async (_what, action, start, expectLines, expectCode, transitions, expectAfter) => {
    const { ours } = await parity('fence_ipmilan', argv(...action), start);
    expect(ours).toMatchObject({ lines: expectLines, code: expectCode, transitions, after: expectAfter });
  });

  it('reboot by power cycle: same output, but ours reports only once the host reads on again', async () => {
    const results = [];
    for (const program of [theirAgent('fence_ipmilan'), ourAgent('fence_ipmilan')]) {
      sim.setPower('on');
      const r = await runFence(program, argv('-m', 'cycle', '-o', 'reboot'));
      results.push({ lines: lines(r), code: r.code, after: sim.power() });
    }
    const [theirs, ours] = results;
    expect(ours).toEqual({ lines: ['Success: Rebooted'], code: 0, after: 'on' });
    // ClusterLabs trusts the BMC's acceptance; ipmi_sim powers back on ~1 s later, so it may still read off here.
    expect({ lines: theirs!.lines, code: theirs!.code }).toEqual({ lines: ['Success: Rebooted'], code: 0 });
  });

  it('reads stdin with old and new option names alike', async () => {
    const old = `ipaddr=127.0.0.1\nipport=${sim.port}\nlogin=${USER}\npasswd=${PASSWORD}\nlanplus=1\ncipher=3\npower_wait=0\naction=off\n`;
    expect((await parity('fence_ipmilan', [], 'on', old)).ours).toMatchObject({
      lines: ['Success: Powered OFF'],
      code: 0,
    });
    const modern = `# comment\nip=127.0.0.1\nipport=${sim.port}\nusername=${USER}\npassword="${PASSWORD}"\nlanplus=1\ncipher=3\npower-wait=0\naction=status\n`;
    expect((await parity('fence_ipmilan', [], 'off', modern)).ours).toMatchObject({ lines: ['Status: OFF'], code: 2 });
  });

  it('an alias takes its own defaults (fence_ilo4 uses lanplus without being told)', async () => {
    const args = [
      '--ip',
      '127.0.0.1',
      '--ipport',
      String(sim.port),
      '-l',
      USER,
      '-p',
      PASSWORD,
      '-C',
      '3',
      '-o',
      'status',
    ];
    expect((await parity('fence_ilo4', args, 'on')).ours).toMatchObject({ lines: ['Status: ON'], code: 0 });
  });

  it('a wrong password fails clearly with exit 1 on both', async () => {
    const args = [
      '--ip',
      '127.0.0.1',
      '--ipport',
      String(sim.port),
      '-l',
      USER,
      '-p',
      'wrong',
      '--lanplus',
      '-C',
      '3',
      '-o',
      'status',
    ];
    const { ours } = await parity('fence_ipmilan', args, 'on');
    expect(ours.code).toBe(1);
    expect(ours.stderr).toMatch(/Failed: Unable to obtain correct plug status or plug is not available/);
  });

  it('an unreachable BMC fails with exit 1 on both', async () => {
    const args = [
      '--ip',
      '127.0.0.1',
      '--ipport',
      '9',
      '-l',
      USER,
      '-p',
      PASSWORD,
      '--lanplus',
      '-C',
      '3',
      '--power-timeout',
      '2',
      '-o',
      'status',
    ];
    const { ours } = await parity('fence_ipmilan', args, 'on');
    expect(ours.code).toBe(1);
  });

  it('an ipmitool that hangs is killed after power_timeout and the agent fails by itself, on both', async () => {
    // The "ipmitool" records its pid and never answers; with --power-timeout 2 each agent must kill it and exit 1
    // on its own. Without that bound the agent would wait on it until runFence's 20 s SIGKILL (code null).
    const pids = join(dir, 'hung-pids');
    const hung = script('hung-ipmitool', `echo $$ >> ${pids}\nexec sleep 60\n`);
    for (const program of [theirAgent('fence_ipmilan'), ourAgent('fence_ipmilan')]) {
      writeFileSync(pids, '');
      const r = await runFence(
        program,
        argv('--ipmitool-path', hung, '--power-timeout', '2', '-o', 'status'),
        undefined,
        20_000,
      );
      expect({ program, code: r.code }, r.stderr).toEqual({ program, code: 1 });
      const started = readFileSync(pids, 'utf8').split('\n').filter(Boolean);
      expect(started.length).toBeGreaterThan(0);
      for (const pid of started)
        expect(
          existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')),
          `ipmitool ${pid} still runs`,
        ).toBe(false);
    }
  });

  it('--password-script: its output is the password, on both (a wrong one fails on both)', async () => {
    const base = statusWithoutPassword();
    const right = script('pw-right', `printf '%s\\n' '${PASSWORD}'\n`);
    expect((await parity('fence_ipmilan', [...base, '-S', right], 'on')).ours).toMatchObject({
      lines: ['Status: ON'],
      code: 0,
    });
    const wrong = script('pw-wrong', `printf '%s\\n' 'not-the-password'\n`);
    const { ours } = await parity('fence_ipmilan', [...base, '-S', wrong], 'on');
    expect(ours.code).toBe(1);
    expect(ours.stderr).toMatch(/Unable to obtain correct plug status/);
    // the stdin form (as Pacemaker passes it)
    const stdin = `ipaddr=127.0.0.1\nipport=${sim.port}\nlogin=${USER}\npassword_script=${right}\nlanplus=1\ncipher=3\naction=status\n`;
    expect((await parity('fence_ipmilan', [], 'off', stdin)).ours).toMatchObject({ lines: ['Status: OFF'], code: 2 });
  });

  it('metadata has the same parameters, types, defaults and order as ClusterLabs, for the base name and aliases', async () => {
    for (const name of ['fence_ipmilan', 'fence_ilo3', 'fence_idrac']) {
      await expectMetadataParity(name);
    }
  });
});

describe('secrets', () => {
  /**
   * An "ipmitool" that records, for each call, what the kernel shows anyone who reads /proc: its own argv
   * (/proc/self/cmdline), its environment as the agent passed it (/proc/self/environ, readable only by its owner and
   * root) and its parent's argv, the agent's own command line at that moment; then it execs the real ipmitool.
   */
  function recordingIpmitool(name: string) {
    const calls = join(dir, `${name}-calls`);
    rmSync(calls, { recursive: true, force: true });
    const path = script(
      name,
      `mkdir -p ${calls}\ncat /proc/$$/cmdline > ${calls}/$$.argv\ncat /proc/$$/environ > ${calls}/$$.env\ncat /proc/$PPID/cmdline > ${calls}/$$.parent\nexec ${IPMITOOL} "$@"\n`,
    );
    const read = () =>
      (existsSync(calls) ? readdirSync(calls) : [])
        .filter((f) => f.endsWith('.argv'))
        .map((f) => {
          const part = (ext: string) =>
            readFileSync(join(calls, f.replace(/\.argv$/, ext)), 'utf8')
              .split('\0')
              .filter(Boolean);
          return { argv: part('.argv').slice(2), env: part('.env'), parent: part('.parent') };
        });
    return { path, read };
  }

  const rebootStdin = (ipmitool: string) =>
    `ipaddr=127.0.0.1\nipport=${sim.port}\nlogin=${USER}\npasswd=${PASSWORD}\nlanplus=1\ncipher=3\npower_wait=0\nipmitool_path=${ipmitool}\naction=reboot\n`;

  it('ours passes the password to ipmitool in its environment (IPMI_PASSWORD with -E), never in its argv (stdin form)', async () => {
    const tool = recordingIpmitool('ours-stdin');
    sim.setPower('on');
    const { result: r, transitions } = await transitionsDuring(() =>
      runFence(ourAgent('fence_ipmilan'), [], rebootStdin(tool.path)),
    );
    expect({ lines: lines(r), code: r.code, transitions }, r.stderr).toEqual({
      lines: ['Success: Rebooted'],
      code: 0,
      transitions: ['power 0', 'power 1'],
    });
    const calls = tool.read();
    expect(calls.length).toBeGreaterThanOrEqual(4); // status, off, status, on, status
    for (const call of calls) {
      expect(call.argv.join(' ')).not.toContain(PASSWORD);
      expect(call.argv).toContain('-E');
      expect(call.argv).not.toContain('-P');
      expect(call.env).toContain(`IPMI_PASSWORD=${PASSWORD}`);
      expect(call.parent.join(' ')).not.toContain(PASSWORD);
    }
    expect(r.stderr).not.toContain(PASSWORD);
  });

  it("ours hides a password given on its own command line: it is in neither its visible argv nor ipmitool's", async () => {
    const tool = recordingIpmitool('ours-argv');
    const r = await runFence(ourAgent('fence_ipmilan'), argv('--ipmitool-path', tool.path, '-o', 'status'));
    expect({ lines: lines(r), code: r.code }, r.stderr).toEqual({ lines: ['Status: ON'], code: 0 });
    const calls = tool.read();
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call.parent.length).toBeGreaterThan(0);
      expect(call.parent.join(' ')).not.toContain(PASSWORD);
      expect(call.argv.join(' ')).not.toContain(PASSWORD);
      expect(call.env).toContain(`IPMI_PASSWORD=${PASSWORD}`);
    }
  });

  it.skipIf(noTheirs)(
    "the same recorder catches ClusterLabs passing it as -P in ipmitool's argv (the check is real)",
    async () => {
      const tool = recordingIpmitool('theirs-stdin');
      sim.setPower('on');
      const r = await runFence(theirAgent('fence_ipmilan'), [], rebootStdin(tool.path));
      expect(lines(r)).toEqual(['Success: Rebooted']);
      const calls = tool.read();
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls)
        expect(call.argv.slice(call.argv.indexOf('-P'), call.argv.indexOf('-P') + 2)).toEqual(['-P', PASSWORD]);
    },
  );

  it('--password-script runs without a shell: its arguments reach it, shell syntax stays literal', async () => {
    const echo = script('pw-echo', 'printf \'%s\\n\' "$1"\n');
    const marker = join(dir, 'pwned');
    const base = statusWithoutPassword();
    sim.setPower('on');
    const ok = await runFence(ourAgent('fence_ipmilan'), [...base, '-S', `${echo} ${PASSWORD}`]);
    expect({ lines: lines(ok), code: ok.code }, ok.stderr).toEqual({ lines: ['Status: ON'], code: 0 });
    // Through a shell this would log in (the script prints the password) and create the marker.
    const literal = await runFence(ourAgent('fence_ipmilan'), [...base, '-S', `${echo} ${PASSWORD};touch ${marker}`]);
    expect(literal.code).toBe(1);
    expect(existsSync(marker)).toBe(false);
  });

  it('an unknown stdin key is reported without its value', async () => {
    const r = await runFence(ourAgent('fence_ipmilan'), [], `action=metadata\nmystery_secret=${PASSWORD}\n`);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Ignoring unknown option 'mystery_secret'/);
    expect(r.stderr).not.toContain(PASSWORD);
  });
});
