import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApcSnmpSim, type OutletState, startApcSnmpSim } from './fixtures/apc-snmp-sim.js';
import { expectMetadataParity, lines, ourAgent, runFence, theirAgent, type FenceResult } from './support/fence-run.js';
import { missing } from './support/peers.js';

const NAME = 'fence_apc_snmp';
const OURS = ourAgent(NAME);
const THEIRS = theirAgent(NAME);
const RUN_TIMEOUT_MS = 25_000;
let sim: ApcSnmpSim;

beforeAll(async () => {
  sim = await startApcSnmpSim({ outlets: 3 });
});

afterAll(async () => {
  await sim?.stop();
});

const argv = (...extra: string[]) => ['--ip', '127.0.0.1', '--ipport', String(sim.port), '--power-wait', '0', ...extra];
const outlets = () => [1, 2, 3].map((n) => sim.outlet(n));

interface Outcome {
  lines: string[];
  code: number | null;
  /** The outlet commands the PDU carried out, in order ("2 off", "2 on", ...). */
  commands: string[];
  after: OutletState[];
  stderr: string;
  ms: number;
}

type Aspect = 'lines' | 'code' | 'commands' | 'after';
const ALL: Aspect[] = ['lines', 'code', 'commands', 'after'];

/**
 * Runs both agents from the same outlet states and checks they agree on output, exit code, the outlet commands the
 * PDU carried out (in order: a reboot is an off then an on) and the outlets afterwards (or only on `same`).
 */
async function parity(args: string[], start: OutletState[], stdin?: string, same: Aspect[] = ALL) {
  const results: Outcome[] = [];
  for (const program of [THEIRS, OURS]) {
    start.forEach((s, i) => sim.setOutlet(i + 1, s));
    const before = sim.commands().length;
    const r: FenceResult = await runFence(program, args, stdin, RUN_TIMEOUT_MS);
    results.push({
      lines: lines(r),
      code: r.code,
      commands: sim.commands().slice(before),
      after: outlets(),
      stderr: r.stderr,
      ms: r.ms,
    });
  }
  const [theirs, ours] = results as [Outcome, Outcome];
  const pick = (o: Outcome) => Object.fromEntries(same.map((k) => [k, o[k]]));
  expect(pick(ours), `ours stderr: ${ours.stderr}\ntheirs stderr: ${theirs.stderr}`).toEqual(pick(theirs));
  timings.push({
    case: args.slice(6).join(' ') || `stdin ${/action=(\S+)/.exec(stdin ?? '')?.[1]}`,
    theirs: theirs.ms,
    ours: ours.ms,
  });
  return { theirs, ours };
}

const timings: { case: string; theirs: number; ours: number }[] = [];
afterAll(() => {
  console.log(
    timings
      .map(
        (t) =>
          `${t.case.padEnd(50)} theirs ${t.theirs.toFixed(0).padStart(6)} ms   ours ${t.ours.toFixed(0).padStart(6)} ms`,
      )
      .join('\n'),
  );
});

describe.skipIf(missing('ClusterLabs fence_apc_snmp (fence-agents)', !existsSync(THEIRS)))(
  'fence_apc_snmp parity with ClusterLabs against an snmpsim APC rPDU',
  () => {
    const ON: OutletState[] = ['on', 'on', 'on'];
    const TWO_OFF: OutletState[] = ['on', 'off', 'on'];

    // The commands column is what the PDU carried out: a reboot is an off then an on (from off, only the on).
    it.each([
      ['status by number, on', ['-n', '1', '-o', 'status'], ON, ['Status: ON'], 0, [], ON],
      ['status by number, off', ['-n', '2', '-o', 'status'], TWO_OFF, ['Status: OFF'], 2, [], TWO_OFF],
      ['status by name', ['-n', 'node2', '-o', 'status'], TWO_OFF, ['Status: OFF'], 2, [], TWO_OFF],
      ['off by number', ['-n', '2', '-o', 'off'], ON, ['Success: Powered OFF'], 0, ['2 off'], TWO_OFF],
      ['off by name', ['-n', 'node2', '-o', 'off'], ON, ['Success: Powered OFF'], 0, ['2 off'], TWO_OFF],
      ['off when already off', ['-n', '2', '-o', 'off'], TWO_OFF, ['Success: Already OFF'], 0, [], TWO_OFF],
      ['on by number', ['-n', '2', '-o', 'on'], TWO_OFF, ['Success: Powered ON'], 0, ['2 on'], ON],
      ['on by name', ['-n', 'node2', '-o', 'on'], TWO_OFF, ['Success: Powered ON'], 0, ['2 on'], ON],
      ['reboot by number', ['-n', '3', '-o', 'reboot'], ON, ['Success: Rebooted'], 0, ['3 off', '3 on'], ON],
      [
        'reboot by name of an off outlet',
        ['-n', 'node2', '-o', 'reboot'],
        TWO_OFF,
        ['Success: Rebooted'],
        0,
        ['2 on'],
        ON,
      ],
      ['list', ['-o', 'list'], TWO_OFF, ['1,node1', '2,node2', '3,node3'], 0, [], TWO_OFF],
      ['monitor', ['-o', 'monitor'], TWO_OFF, [], 0, [], TWO_OFF],
      ['status over SNMP v2c', ['-d', '2c', '-n', 'node1', '-o', 'status'], ON, ['Status: ON'], 0, [], ON],
      [
        'off over SNMP v2c',
        ['-d', '2c', '-n', '1', '-o', 'off'],
        ON,
        ['Success: Powered OFF'],
        0,
        ['1 off'],
        ['off', 'on', 'on'],
      ],
    ] as const)('%s', async (_what, action, start, expectLines, expectCode, commands, expectAfter) => {
      const { ours } = await parity(argv('-c', 'private', ...action), [...start]);
      expect(ours).toMatchObject({ lines: expectLines, code: expectCode, commands, after: expectAfter });
    });

    it('two plugs at once: ClusterLabs switches only the first (twice) yet reports success; ours switches both', async () => {
      const { theirs, ours } = await parity(argv('-n', '1,3', '-o', 'off'), ['on', 'on', 'on'], undefined, [
        'lines',
        'code',
      ]);
      expect(theirs).toMatchObject({
        lines: ['Success: Powered OFF'],
        code: 0,
        commands: ['1 off', '1 off'],
        after: ['off', 'on', 'on'],
      });
      expect(ours).toMatchObject({
        lines: ['Success: Powered OFF'],
        code: 0,
        commands: ['1 off', '3 off'],
        after: ['off', 'on', 'off'],
      });
    });

    it('an outlet the PDU does not have (v2c): ClusterLabs reads it as off and reports a fence done; ours fails', async () => {
      const { theirs, ours } = await parity(argv('-d', '2c', '-n', '9', '-o', 'off'), ['on', 'on', 'on'], undefined, [
        'after',
      ]);
      expect(theirs).toMatchObject({ lines: ['Success: Already OFF'], code: 0 });
      expect(ours).toMatchObject({ lines: [], code: 1, commands: [] });
      expect(ours.stderr).toMatch(/Unable to obtain correct plug status or plug is not available/);
    });

    it('list-status: same plugs and names; ours reads the states where ClusterLabs prints UNKNOWN', async () => {
      const { theirs, ours } = await parity(argv('-o', 'list-status'), ['on', 'off', 'on'], undefined, [
        'code',
        'after',
      ]);
      expect(theirs.lines).toEqual(['1,node1,UNKNOWN', '2,node2,UNKNOWN', '3,node3,UNKNOWN']);
      expect(ours.lines).toEqual(['1,node1,on', '2,node2,off', '3,node3,on']);
    });

    it('reads stdin with old and new option names alike', async () => {
      const old = `ipaddr=127.0.0.1\nipport=${sim.port}\ncommunity=private\nport=node3\npower_wait=0\naction=off\n`;
      expect((await parity([], ['on', 'on', 'on'], old)).ours).toMatchObject({
        lines: ['Success: Powered OFF'],
        code: 0,
        after: ['on', 'on', 'off'],
      });
      const modern = `# comment\nip=127.0.0.1\nipport=${sim.port}\nplug="2"\nsnmp-version=2c\npower-wait=0\naction=status\n`;
      expect((await parity([], ['on', 'off', 'on'], modern)).ours).toMatchObject({ lines: ['Status: OFF'], code: 2 });
    });

    it('an unknown plug name fails with exit 1 on both, touching nothing', async () => {
      for (const action of ['status', 'off']) {
        const { ours } = await parity(argv('-n', 'no-such-node', '-o', action), ['on', 'on', 'on']);
        expect(ours).toMatchObject({ lines: [], code: 1, commands: [], after: ['on', 'on', 'on'] });
        expect(ours.stderr).toMatch(/Can't find port with name no-such-node!/);
      }
    });

    it('a wrong community (the PDU never answers) fails with exit 1 on both, switching nothing', async () => {
      // exit 1 by itself: an agent that kept waiting past its 1 s timeouts would be killed by runFence (code null)
      const { ours } = await parity(
        argv('-c', 'wrong', '-n', '1', '-o', 'off', '--shell-timeout', '1', '--login-timeout', '1'),
        ['on', 'on', 'on'],
      );
      expect(ours).toMatchObject({ code: 1, commands: [], after: ['on', 'on', 'on'] });
    });

    it('metadata has the same parameters, types, defaults and order as ClusterLabs', async () => {
      const { ours } = await expectMetadataParity(NAME, OURS, THEIRS);
      expect(ours).toContain('<symlink name="fence_tripplite_snmp"');
    });
  },
);
