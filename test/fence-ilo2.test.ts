import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Ilo2Sim, type Ilo2SimOptions, startIlo2Sim } from './fixtures/ilo2-sim.js';
import { expectMetadataParity, lines, ourAgent, PATIENT, runFence, theirAgent } from './support/fence-run.js';
import { makePki, type Pki } from './support/pki.js';
import { closedPort } from './support/ports.js';

const USER = 'Administrator';
const PASSWORD = 'Secr3t-pw_42';
const RUN_MS = 40_000;

let pki: Pki | undefined;
let key: Buffer;
let cert: Buffer;
let sim: Ilo2Sim;
const extraSims: Ilo2Sim[] = [];
const timings: string[] = [];

const ours = ourAgent;

beforeAll(async () => {
  pki = makePki();
  key = readFileSync(pki.file('vdsm-key.pem'));
  cert = readFileSync(pki.file('vdsm.pem'));
  sim = await startIlo2Sim({ key, cert, user: USER, password: PASSWORD });
});

afterAll(async () => {
  await Promise.all([sim, ...extraSims].filter(Boolean).map((s) => s.close()));
  pki?.cleanup();
  console.log(`fence_ilo2 run times (theirs / ours):\n${timings.join('\n')}`);
});

async function extraSim(options: Partial<Ilo2SimOptions>): Promise<Ilo2Sim> {
  const s = await startIlo2Sim({ key, cert, user: USER, password: PASSWORD, ...options });
  extraSims.push(s);
  return s;
}

const argvFor = (port: number, password = PASSWORD) => [
  '--ip',
  '127.0.0.1',
  '--ipport',
  String(port),
  '-l',
  USER,
  '-p',
  password,
  '--ssl-insecure',
  ...PATIENT,
];

/** Runs ClusterLabs' agent and ours from the same power state; they must agree on stdout, exit code, effect and RIBCL commands. */
async function parity(label: string, args: string[], start: 'on' | 'off', stdin?: string, device: Ilo2Sim = sim) {
  const results = [];
  for (const program of [theirAgent('fence_ilo2'), ours('fence_ilo2')]) {
    device.power = start;
    const before = {
      requests: device.requests.length,
      connections: device.connections,
      rejectedLogins: device.rejectedLogins,
    };
    const r = await runFence(program, args, stdin, RUN_MS);
    results.push({
      lines: lines(r),
      code: r.code,
      after: device.power,
      requests: device.requests.slice(before.requests),
      connections: device.connections - before.connections,
      rejectedLogins: device.rejectedLogins - before.rejectedLogins,
      stderr: r.stderr,
      ms: r.ms,
    });
  }
  const [theirs, mine] = results as [(typeof results)[0], (typeof results)[0]];
  timings.push(
    `  ${label}: ${theirs.ms.toFixed(0)} ms / ${mine.ms.toFixed(0)} ms (exit ${theirs.code} / ${mine.code})`,
  );
  expect({ lines: mine.lines, code: mine.code, after: mine.after }, `ours stderr: ${mine.stderr}`).toEqual({
    lines: theirs.lines,
    code: theirs.code,
    after: theirs.after,
  });
  expect(mine.stderr).not.toContain(PASSWORD);
  return { theirs, ours: mine };
}

describe('fence_ilo2 parity with ClusterLabs against the iLO2 simulator', { timeout: 120_000 }, () => {
  it.each([
    ['status (on)', ['-o', 'status'], 'on', ['Status: ON'], 0, 'on'],
    ['status (off)', ['-o', 'status'], 'off', ['Status: OFF'], 2, 'off'],
    ['on', ['-o', 'on'], 'off', ['Success: Powered ON'], 0, 'on'],
    ['on (already on)', ['-o', 'on'], 'on', ['Success: Already ON'], 0, 'on'],
    ['off', ['-o', 'off'], 'on', ['Success: Powered OFF'], 0, 'off'],
    ['off (already off)', ['-o', 'off'], 'off', ['Success: Already OFF'], 0, 'off'],
    ['reboot', ['-o', 'reboot'], 'on', ['Success: Rebooted'], 0, 'on'],
    ['reboot (from off)', ['-o', 'reboot'], 'off', ['Success: Rebooted'], 0, 'on'],
    ['monitor', ['-o', 'monitor'], 'off', [], 0, 'off'],
  ] as const)('%s', async (label, action, start, expectLines, expectCode, expectAfter) => {
    const { theirs, ours: mine } = await parity(label, [...argvFor(sim.port), ...action], start);
    expect(mine).toMatchObject({ lines: expectLines, code: expectCode, after: expectAfter });
    // Same RIBCL commands in the same order (GET_FW_VERSION, status, HOLD_PWR_BTN TOGGLE, polls).
    expect(mine.requests).toEqual(theirs.requests);
  });

  it('stdin form (key=value lines, ssl_insecure=1)', async () => {
    const input = (action: string) =>
      `# as pacemaker-fenced sends it\nipaddr=127.0.0.1\nipport=${sim.port}\nlogin=${USER}\npasswd=${PASSWORD}\nssl_insecure=1\naction=${action}\n`;
    expect((await parity('stdin off', [], 'on', input('off'))).ours).toMatchObject({
      lines: ['Success: Powered OFF'],
      code: 0,
      after: 'off',
    });
    expect((await parity('stdin status', [], 'off', input('status'))).ours).toMatchObject({
      lines: ['Status: OFF'],
      code: 2,
    });
  });

  it('a wrong password: exit 1 on both after one connection and one rejected LOGIN', async () => {
    const { theirs, ours: mine } = await parity(
      'wrong password',
      [...argvFor(sim.port, 'wrong'), '-o', 'status'],
      'on',
    );
    expect(mine.code).toBe(1);
    expect(mine.stderr).toMatch(/ERROR: Unable to connect\/login to fencing device/);
    for (const run of [theirs, mine]) expect(run).toMatchObject({ connections: 1, rejectedLogins: 1, requests: [] });
  });

  it.each([
    ['RIBCL 2.x', {}],
    ['RIBCL 1.x', { ribclVersion: '1.30', processor: 'iLO', firmwareVersion: '1.91' }],
  ] as const)(
    '%s and a wrong password: ours fails at the rejecting reply, without waiting for a timeout',
    async (label, options) => {
      // Every timeout at 30 s and runFence's SIGKILL at 15 s: an agent that waited for one (as ClusterLabs does, for
      // login_timeout on 2.x and power_timeout on 1.x) would be killed (code null) instead of exiting 1 by itself.
      const device = await extraSim(options);
      const slow = ['--login-timeout', '30', '--shell-timeout', '30', '--power-timeout', '30', '-o', 'status'];
      const r = await runFence(ours('fence_ilo2'), [...argvFor(device.port, 'wrong'), ...slow], undefined, 15_000);
      timings.push(`  ${label} wrong password, 30 s timeouts (ours): ${r.ms.toFixed(0)} ms (exit ${r.code})`);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/Unable to connect\/login to fencing device/);
      expect(r.stderr).not.toContain('wrong');
      expect({ connections: device.connections, requests: device.requests }).toEqual({ connections: 1, requests: [] });
      expect(device.rejectedLogins).toBeGreaterThan(0);
    },
  );

  it('RIBCL 1.x and a wrong password: exit 1 on both, after one connection', async () => {
    const old = await extraSim({ ribclVersion: '1.30', processor: 'iLO', firmwareVersion: '1.91' });
    const { theirs, ours: mine } = await parity(
      'RIBCL 1.30 wrong password',
      [...argvFor(old.port, 'wrong'), '--power-timeout', '2', '-o', 'status'],
      'on',
      undefined,
      old,
    );
    expect(mine.code).toBe(1);
    expect(mine.stderr).toMatch(/Unable to connect\/login to fencing device/);
    expect({ connections: mine.connections, rejectedLogins: mine.rejectedLogins }).toEqual({
      connections: theirs.connections,
      rejectedLogins: theirs.rejectedLogins,
    });
  });

  it('RIBCL 1.x: SET_HOST_POWER on/off, no GET_FW_VERSION, as upstream', async () => {
    const old = await extraSim({ ribclVersion: '1.30', processor: 'iLO', firmwareVersion: '1.91' });
    const off = await parity('RIBCL 1.30 off', [...argvFor(old.port), '-o', 'off'], 'on', undefined, old);
    expect(off.ours.requests).toEqual(off.theirs.requests);
    expect(off.ours.requests).toContain('SET_HOST_POWER OFF');
  });

  it('an unreachable device: exit 1 on both', async () => {
    const { ours: mine } = await parity('unreachable port', [...argvFor(await closedPort()), '-o', 'status'], 'on');
    expect(mine.code).toBe(1);
    expect(mine.stderr).toMatch(/Unable to connect\/login to fencing device/);
  });

  it('without --ssl-insecure the self-signed device is refused on both (verification on by default)', async () => {
    const args = [...argvFor(sim.port).filter((a) => a !== '--ssl-insecure'), '-o', 'status'];
    const { ours: mine } = await parity('no --ssl-insecure', args, 'on');
    expect(mine.code).toBe(1);
    expect(mine.requests).toEqual([]);
  });

  it('a password with quotes, < and & reaches the device intact', async () => {
    const password = `p"w'<&>x`;
    const s = await extraSim({ password });
    const { ours: mine } = await parity(
      'tricky password',
      [...argvFor(s.port, password), '-o', 'status'],
      'on',
      undefined,
      s,
    );
    expect(mine).toMatchObject({ lines: ['Status: ON'], code: 0 });
    expect(s.rejectedLogins).toBe(0);
  });

  it('metadata has the same parameters, types, defaults and order as ClusterLabs (fence_ilo2 and fence_ilo)', async () => {
    for (const name of ['fence_ilo2', 'fence_ilo']) {
      const { theirs, ours: mine } = await expectMetadataParity(name, ours(name));
      expect(actions(mine)).toEqual(actions(theirs));
    }
  });
});

const actions = (xml: string) => [...xml.matchAll(/<action ([^>]*?)\s*\/>/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
