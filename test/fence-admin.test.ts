/**
 * The fence agents as an admin drives them by hand, next to ClusterLabs': -V, -v and -D (the device dialogue,
 * never a secret), validate-all, how long fence_apc_snmp keeps asking a PDU that does not answer, and -o manpage.
 * FENCE_DIST points the tests at other agent bundles (a build with a feature removed must fail them).
 */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ipmilan from '../plugins/fence_ipmilan/index.js';
import { runAgent } from '../src/plugins/fence/run.js';
import { startApcSnmpSim } from './fixtures/apc-snmp-sim.js';
import { startCliDevice } from './fixtures/cli-device/index.js';
import { startIlo2Sim } from './fixtures/ilo2-sim.js';
import { type IpmiSim, startIpmiSim } from './fixtures/ipmi-sim.js';
import { clusterLabsEnv, type FenceResult, lines, PATIENT, runFence, theirAgent } from './support/fence-exec.js';
import { ROOT } from './support/paths.js';
import { missing } from './support/peers.js';
import { makePki } from './support/pki.js';

const PASSWORD = 'Pw-n0t-in-logs_7';
const DIST = process.env.FENCE_DIST ?? join(ROOT, 'dist/fence');
const ours = (name: string) => (existsSync(join(DIST, `${name}.js`)) ? join(DIST, `${name}.js`) : join(DIST, name));
const dir = mkdtempSync(join(tmpdir(), 'fence-admin-'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: object };
const FENCE_NAMES = Object.keys(pkg.bin).filter((n) => n.startsWith('fence_'));
const AGENTS = ['fence_ipmilan', 'fence_ilo2', 'fence_apc', 'fence_drac5', 'fence_apc_snmp'];
const noTheirs = missing('ClusterLabs fence-agents', !existsSync(theirAgent('fence_ipmilan')));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * stderr without timestamps, Python's deprecation noise, blank lines, and the copies Python's logging prints in its
 * own format (`ERROR:root:...`) when a stdin warning came before the agent set up its log.
 */
const logLines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} /, ''))
    .filter((l) => l.trim() !== '' && !/DeprecationWarning|from pipes import|^[A-Z]+:root:/.test(l));

describe('-V', () => {
  it.skipIf(noTheirs)("prints the package version, one line, as ClusterLabs' prints its own", async () => {
    const theirs = await runFence(theirAgent('fence_ipmilan'), ['-V']);
    expect(theirs.code).toBe(0);
    expect(lines(theirs)).toEqual([expect.stringMatching(/^\d+\.\d+\.\d+$/)]);
    for (const name of ['fence_ipmilan', 'fence_ilo4', 'fence_apc_snmp']) {
      const r = await runFence(ours(name), ['--version']);
      expect(r.code).toBe(0);
      expect(lines(r)).toEqual([pkg.version]);
    }
  });
});

/**
 * Runs our agent with -v and -D, and checks the dialogue (each pattern) is on stderr and in the file, and that
 * the secret is nowhere: stdout, stderr, the file. Then once more with -q: nothing on stderr, all in the file.
 */
async function expectDialogue(name: string, args: string[], secret: string, dialogue: RegExp[]) {
  const file = join(dir, `${name}-${Math.random().toString(36).slice(2)}.log`);
  const r = await runFence(ours(name), [...args, '-v', '-D', file], undefined, 30_000);
  const written = readFileSync(file, 'utf8');
  expect(r.code, r.stderr).toBe(0);
  for (const text of [r.stdout, r.stderr, written]) expect(text).not.toContain(secret);
  for (const pattern of dialogue) {
    expect(r.stderr).toMatch(pattern);
    expect(written).toMatch(pattern);
  }
  expect(statSync(file).mode & 0o077).toBe(0);

  const quiet = join(dir, `${name}-quiet.log`);
  const q = await runFence(ours(name), [...args, '-q', '-D', quiet], undefined, 30_000);
  expect(q.stderr).toBe('');
  for (const pattern of dialogue) expect(readFileSync(quiet, 'utf8')).toMatch(pattern);
  expect(readFileSync(quiet, 'utf8')).not.toContain(secret);
}

describe('-v and -D log the device dialogue, never a secret', () => {
  let ipmi: IpmiSim;
  beforeAll(async () => {
    ipmi = await startIpmiSim({ user: 'admin', password: PASSWORD });
  });
  afterAll(() => ipmi?.stop());
  const ipmiArgs = () => ['-a', '127.0.0.1', '-u', String(ipmi.port), '-l', 'admin', '-p', PASSWORD, '-P', '-C', '3'];

  it('ipmitool: the command line run and its answer', async () => {
    await expectDialogue('fence_ipmilan', [...ipmiArgs(), '-o', 'status'], PASSWORD, [
      /INFO: Executing: \/usr\/bin\/ipmitool -I lanplus -H 127\.0\.0\.1 .*-E .*chassis power status/,
      /DEBUG: Received: 0 Chassis Power is on/,
    ]);
  });

  it('RIBCL: each command sent (LOGIN with the password masked) and each reply', async () => {
    const pki = makePki();
    const sim = await startIlo2Sim({
      key: readFileSync(pki.file('vdsm-key.pem')),
      cert: readFileSync(pki.file('vdsm.pem')),
      user: 'Administrator',
      password: PASSWORD,
    });
    try {
      const args = ['-a', '127.0.0.1', '-u', String(sim.port), '-l', 'Administrator', '-p', PASSWORD];
      await expectDialogue('fence_ilo2', [...args, '--ssl-insecure', ...PATIENT, '-o', 'status'], PASSWORD, [
        /Sent: <LOGIN USER_LOGIN="Administrator" PASSWORD="\*{8}">\s*<SERVER_INFO MODE="read"><GET_HOST_POWER_STATUS\/>/,
        /Received: [\s\S]*<GET_HOST_POWER\s+HOST_POWER="ON"/,
      ]);
    } finally {
      await sim.close();
      pki.cleanup();
    }
  });

  it.each([
    [
      'fence_drac5',
      'drac5',
      'root',
      [],
      /Sent: racadm serveraction powerstatus/,
      /Received: [^\n]*\nServer power status: ON/,
    ],
    ['fence_apc', 'apc', 'apc', ['-n', '1'], /Sent: olStatus all/, /Received: olStatus all[\s\S]*1: Outlet 1: On/],
  ] as const)(
    'telnet command line (%s): the login, each command and its answer',
    async (name, device, user, plug, sent, answer) => {
      const d = await startCliDevice({ device, transport: 'telnet', user, password: PASSWORD });
      try {
        const args = ['-a', '127.0.0.1', '-u', String(d.port), '-l', user, '-p', PASSWORD, ...plug, ...PATIENT];
        await expectDialogue(name, [...args, '-o', 'status'], PASSWORD, [
          /INFO: Connecting to 127\.0\.0\.1:\d+ over telnet/,
          new RegExp(`Sent: ${user}\\r?\\n`),
          /Sent: \*{8}/,
          sent,
          answer,
        ]);
      } finally {
        await d.close();
      }
    },
  );

  it('SNMP: each request and its answer, not the community', async () => {
    const sim = await startApcSnmpSim({ outlets: 2, community: PASSWORD });
    try {
      await expectDialogue(
        'fence_apc_snmp',
        ['-a', '127.0.0.1', '-u', String(sim.port), '-c', PASSWORD, '-n', '1', '-o', 'status'],
        PASSWORD,
        [/Sent: get 1\.3\.6\.1\.2\.1\.1\.2\.0/, /Received: 1\.3\.6\.1\.4\.1\.318\.1\.1\.12\.3\.5\.1\.1\.4\.1 1/],
      );
    } finally {
      await sim.stop();
    }
  });

  it('in process (Host.fenceNode) the dialogue goes to the debug sink, masked, and nothing to stderr', async () => {
    const debug: string[] = [];
    const err: string[] = [];
    const stdin = `ipaddr=127.0.0.1\nipport=${ipmi.port}\nlogin=admin\npasswd=${PASSWORD}\nlanplus=1\ncipher=3\naction=status\n`;
    const code = await runAgent(
      ipmilan,
      { name: 'fence_ipmilan', argv: [], stdin, env: {} },
      { out: () => {}, err: (t) => err.push(t), debug: (m) => debug.push(m) },
    );
    expect(code).toBe(0);
    expect(debug.join('\n')).toMatch(/Executing: .*chassis power status/);
    expect(debug.join('\n')).toMatch(/Received: 0 Chassis Power is on/);
    expect(debug.join('\n') + err.join('')).not.toContain(PASSWORD);
    expect(err).toEqual([]);
  });

  it('a debug file that cannot be created fails the run before the device is contacted', async () => {
    const before = ipmi.transitions().length;
    const r = await runFence(ours('fence_ipmilan'), [...ipmiArgs(), '-o', 'off', '-D', join(dir, 'no/such/dir')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Failed: Unable to create file/);
    expect(ipmi.transitions().length).toBe(before);
  });
});

describe.skipIf(noTheirs)('validate-all as ClusterLabs: the same verdict and messages, for every agent', () => {
  const key = join(dir, 'id_key');
  writeFileSync(key, 'not a key, only a file\n');
  const cases: Record<string, string[]> = {
    nothing: [],
    'address only': ['ipaddr=h'],
    'address and login': ['ipaddr=h', 'login=u'],
    'no plug': ['ipaddr=h', 'login=u', 'passwd=p'],
    complete: ['ipaddr=h', 'login=u', 'passwd=p', 'port=1'],
    'identity file without ssh': ['ipaddr=h', 'login=u', 'port=1', `identity_file=${key}`],
    'identity file over ssh': ['ipaddr=h', 'login=u', 'port=1', `identity_file=${key}`, 'secure=1'],
    'missing identity file': ['ipaddr=h', 'login=u', 'port=1', `identity_file=${key}.gone`, 'secure=1'],
    'bad choice and time': ['ipaddr=h', 'login=u', 'passwd=p', 'port=1', 'power_wait=soon'],
  };
  const verdict = (r: FenceResult) => ({ code: r.code, errors: logLines(r.stderr).filter((l) => /^ERROR/.test(l)) });
  it.each(AGENTS)('%s', async (name) => {
    for (const [what, pairs] of Object.entries(cases)) {
      const stdin = ['action=validate-all', ...pairs].join('\n') + '\n';
      const [theirs, mine] = await Promise.all([
        runFence(theirAgent(name), [], stdin, 20_000, clusterLabsEnv()),
        runFence(ours(name), [], stdin),
      ]);
      expect(verdict(mine), `${name}, ${what}`).toEqual(verdict(theirs));
    }
  });
});

/** Datagrams that reach a UDP socket where nobody answers, while `run` runs. */
async function datagramsDuring(run: (port: number) => Promise<FenceResult>): Promise<number> {
  const socket = dgram.createSocket('udp4');
  let count = 0;
  socket.on('message', () => count++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  try {
    const r = await run(socket.address().port);
    expect(r.signal, 'the agent must give up by itself').toBeNull();
    expect(r.code).toBe(1);
    return count;
  } finally {
    socket.close();
  }
}

describe.skipIf(missing('ClusterLabs fence_apc_snmp', !existsSync(theirAgent('fence_apc_snmp'))))(
  'fence_apc_snmp gives up on a PDU that does not answer after as many requests as ClusterLabs',
  () => {
    it.each([
      ['the default timeouts', []],
      ['a long login timeout', ['--login-timeout', '20']],
      ['timeouts disabled', ['--disable-timeout', 'true']],
    ])('%s', { timeout: 60_000 }, async (_what, extra) => {
      const args = (port: number) => ['-a', '127.0.0.1', '-u', String(port), '-n', '1', '-o', 'status', ...extra];
      const [theirs, mine] = await Promise.all([
        datagramsDuring((port) => runFence(theirAgent('fence_apc_snmp'), args(port), undefined, 40_000)),
        datagramsDuring((port) => runFence(ours('fence_apc_snmp'), args(port), undefined, 40_000)),
      ]);
      expect(theirs).toBeGreaterThan(0);
      expect(mine).toBe(theirs);
    });
  },
);

describe('-o manpage', () => {
  it(
    'renders without a warning for every agent and alias, under that name, with every metadata parameter',
    { timeout: 120_000 },
    async () => {
      expect(FENCE_NAMES.length).toBeGreaterThanOrEqual(13);
      for (const name of FENCE_NAMES) {
        const page = await runFence(ours(name), ['-o', 'manpage']);
        expect(page.code).toBe(0);
        const file = join(dir, `${name}.8`);
        writeFileSync(file, page.stdout);
        // -ww: every warning groff knows; -z: no output, only the diagnostics.
        const warnings = execFileSync('groff', ['-man', '-Tutf8', '-ww', '-z', file], {
          encoding: 'utf8',
          stdio: 'pipe',
        });
        expect(warnings).toBe('');
        const text = execFileSync('man', ['-l', file], {
          encoding: 'utf8',
          env: { ...process.env, MANWIDTH: '120', MAN_KEEP_FORMATTING: '', MANPAGER: 'cat', LANG: 'C.UTF-8' },
        });
        expect(text).toMatch(new RegExp(`^NAME\\s+${name} - `, 'm'));
        for (const section of ['SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'ACTIONS', 'STDIN PARAMETERS', 'EXIT STATUS'])
          expect(text).toMatch(new RegExp(`^${section}$`, 'm'));
        const metadata = (await runFence(ours(name), ['-o', 'metadata'])).stdout;
        const params = [...metadata.matchAll(/<parameter name="([^"]+)"/g)].map((m) => m[1]!);
        expect(params.length).toBeGreaterThan(10);
        for (const param of params) expect(text, `${name}: ${param}`).toContain(param);
      }
    },
  );
});
