import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IpmiSim, startIpmiSim } from './fixtures/ipmi-sim.js';
import { expectMetadataParity, lines, ourAgent, runFence, theirAgent } from './support/fence-run.js';

const USER = 'admin';
const PASSWORD = 'Secr3t-pw_42';
let sim: IpmiSim;

beforeAll(async () => {
  sim = await startIpmiSim({ user: USER, password: PASSWORD });
});

afterAll(async () => {
  await sim?.stop();
});

const argv = (...extra: string[]) => ['--ip', '127.0.0.1', '--ipport', String(sim.port), '-l', USER, '-p', PASSWORD, '--lanplus', '-C', '3', '--power-wait', '0', ...extra];

/** Runs both agents from the same starting power state and checks they agree on output, exit code and effect. */
async function parity(name: string, args: string[], start: 'on' | 'off', stdin?: string) {
  const results = [];
  for (const program of [theirAgent(name), ourAgent(name)]) {
    sim.setPower(start);
    const r = await runFence(program, args, stdin);
    results.push({ lines: lines(r), code: r.code, after: sim.power(), stderr: r.stderr, ms: r.ms });
  }
  const [theirs, ours] = results;
  expect({ lines: ours!.lines, code: ours!.code, after: ours!.after }, `ours stderr: ${ours!.stderr}`).toEqual({
    lines: theirs!.lines,
    code: theirs!.code,
    after: theirs!.after,
  });
  return { theirs: theirs!, ours: ours! };
}

describe('fence_ipmilan parity with ClusterLabs against ipmi_sim', () => {
  it.each([
    ['status of a powered-on host', ['-o', 'status'], 'on', ['Status: ON'], 0, 'on'],
    ['status of a powered-off host', ['-o', 'status'], 'off', ['Status: OFF'], 2, 'off'],
    ['off', ['-o', 'off'], 'on', ['Success: Powered OFF'], 0, 'off'],
    ['off when already off', ['-o', 'off'], 'off', ['Success: Already OFF'], 0, 'off'],
    ['on', ['-o', 'on'], 'off', ['Success: Powered ON'], 0, 'on'],
    ['reboot', ['-o', 'reboot'], 'on', ['Success: Rebooted'], 0, 'on'],
    ['reboot of a powered-off host', ['-o', 'reboot'], 'off', ['Success: Rebooted'], 0, 'on'],
    ['monitor', ['-o', 'monitor'], 'off', [], 0, 'off'],
    ['list', ['-o', 'list'], 'on', ['NOTICE: List option is not working on this device yet'], 0, 'on'],
    ['diag, which ipmi_sim refuses', ['-o', 'diag'], 'on', [], 1, 'on'],
  ] as const)('%s', async (_what, action, start, expectLines, expectCode, expectAfter) => {
    const { ours } = await parity('fence_ipmilan', argv(...action), start);
    expect(ours).toMatchObject({ lines: expectLines, code: expectCode, after: expectAfter });
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
    expect((await parity('fence_ipmilan', [], 'on', old)).ours).toMatchObject({ lines: ['Success: Powered OFF'], code: 0 });
    const modern = `# comment\nip=127.0.0.1\nipport=${sim.port}\nusername=${USER}\npassword="${PASSWORD}"\nlanplus=1\ncipher=3\npower-wait=0\naction=status\n`;
    expect((await parity('fence_ipmilan', [], 'off', modern)).ours).toMatchObject({ lines: ['Status: OFF'], code: 2 });
  });

  it('an alias takes its own defaults (fence_ilo4 uses lanplus without being told)', async () => {
    const args = ['--ip', '127.0.0.1', '--ipport', String(sim.port), '-l', USER, '-p', PASSWORD, '-C', '3', '-o', 'status'];
    expect((await parity('fence_ilo4', args, 'on')).ours).toMatchObject({ lines: ['Status: ON'], code: 0 });
  });

  it('a wrong password fails clearly with exit 1 on both', async () => {
    const args = ['--ip', '127.0.0.1', '--ipport', String(sim.port), '-l', USER, '-p', 'wrong', '--lanplus', '-C', '3', '-o', 'status'];
    const { ours } = await parity('fence_ipmilan', args, 'on');
    expect(ours.code).toBe(1);
    expect(ours.stderr).toMatch(/Failed: Unable to obtain correct plug status or plug is not available/);
  });

  it('an unreachable BMC fails with exit 1 on both within the power timeout', async () => {
    const args = ['--ip', '127.0.0.1', '--ipport', '9', '-l', USER, '-p', PASSWORD, '--lanplus', '-C', '3', '--power-timeout', '2', '-o', 'status'];
    const { ours, theirs } = await parity('fence_ipmilan', args, 'on');
    expect(ours.code).toBe(1);
    expect(ours.ms).toBeLessThan(theirs.ms + 2000);
  });

  it('metadata has the same parameters, types, defaults and order as ClusterLabs, for the base name and aliases', async () => {
    for (const name of ['fence_ipmilan', 'fence_ilo3', 'fence_idrac']) {
      await expectMetadataParity(name);
    }
  });
});

describe('secrets', () => {
  /** Runs an agent's reboot (password on stdin) while scanning every process's command line for the password. */
  async function rebootWatched(program: string) {
    const seen: string[] = [];
    let watching = true;
    const watcher = (async () => {
      for (let i = 0; i < 20_000 && watching; i++) {
        for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
          try {
            const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
            if (cmd.includes(PASSWORD)) seen.push(cmd.replace(/\0/g, ' '));
          } catch {
            // the process ended between listing and reading
          }
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    sim.setPower('on');
    const stdin = `ipaddr=127.0.0.1\nipport=${sim.port}\nlogin=${USER}\npasswd=${PASSWORD}\nlanplus=1\ncipher=3\npower_wait=0\naction=reboot\n`;
    const r = await runFence(program, [], stdin);
    watching = false;
    await watcher;
    return { r, seen };
  }

  it('the password never appears in the process table during a reboot (stdin form, as Pacemaker and vdsm use)', async () => {
    const { r, seen } = await rebootWatched(ourAgent('fence_ipmilan'));
    expect(lines(r)).toEqual(['Success: Rebooted']);
    expect(seen).toEqual([]);
    expect(r.stderr).not.toContain(PASSWORD);
  });

  it('the same watcher does see ClusterLabs put it in ipmitool\'s argv (the watch is real)', async () => {
    let caught = false;
    for (let attempt = 0; attempt < 3 && !caught; attempt++) caught = (await rebootWatched(theirAgent('fence_ipmilan'))).seen.length > 0;
    expect(caught).toBe(true);
  });

  it('an unknown stdin key is reported without its value', async () => {
    const r = await runFence(ourAgent('fence_ipmilan'), [], `action=metadata\nmystery_secret=${PASSWORD}\n`);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Ignoring unknown option 'mystery_secret'/);
    expect(r.stderr).not.toContain(PASSWORD);
  });
});
