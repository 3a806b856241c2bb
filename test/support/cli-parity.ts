import { existsSync } from 'node:fs';
import { afterAll, expect } from 'vitest';
import { type CliDevice, type CliDeviceOptions, startCliDevice } from '../fixtures/cli-device/index.js';
import { agentArgs } from '../fixtures/cli-device/run-agent.js';
import { lines, ourAgent, runFence, theirAgent } from './fence-run.js';

/**
 * Parity of one CLI fence agent (fence_apc, fence_drac5) with ClusterLabs': simulators started per test file and
 * closed after it, argv for a device, and a runner that puts the device in the same state before each agent, runs
 * theirs then ours, and compares stdout lines, exit code, the power changes the device carried out (in order: a
 * reboot must be an off then an on, not just "on" at the end) and its power afterwards. Timings are tabled at the end.
 */
export function cliParity(name: string, kind: CliDeviceOptions['device'], login: string, password: string) {
  const ours = ourAgent(name);
  const haveTheirs = existsSync(theirAgent(name)) && existsSync('/usr/bin/telnet') && existsSync('/usr/bin/ssh');
  const timings: { agent: string; transport: string; action: string; theirs: number; ours: number }[] = [];
  const devices: CliDevice[] = [];
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    console.table(timings.map((t) => ({ ...t, theirs: Math.round(t.theirs), ours: Math.round(t.ours) })));
  });

  return {
    ours,
    haveTheirs,
    async device(opts: Partial<CliDeviceOptions>): Promise<CliDevice> {
      const d = await startCliDevice({ device: kind, transport: 'telnet', ...opts });
      devices.push(d);
      return d;
    },
    // agentArgs adds SSH options that today's OpenSSH accepts (fence_apc's default `-1 -c blowfish` it refuses).
    argv: (d: CliDevice, transport: 'telnet' | 'ssh' | 'openssh', ...rest: string[]) =>
      agentArgs(d, transport, login, password, ...rest),
    async parity(d: CliDevice, transport: string, args: string[], reset: () => void, stdin?: string) {
      const results = [];
      for (const program of [theirAgent(name), ours]) {
        reset();
        const before = d.transitions.length;
        const r = await runFence(program, args, stdin, 25_000);
        const transitions = d.transitions.slice(before);
        results.push({
          lines: lines(r),
          code: r.code,
          transitions,
          after: d.outlets.map((o) => o.on),
          stderr: r.stderr,
          ms: r.ms,
        });
      }
      const [theirs, mine] = results as [(typeof results)[0], (typeof results)[0]];
      const seen = (x: typeof mine) => ({ lines: x.lines, code: x.code, transitions: x.transitions, after: x.after });
      expect(seen(mine), `ours stderr: ${mine.stderr}\ntheirs stderr: ${theirs.stderr}`).toEqual(seen(theirs));
      const action = args[args.indexOf('-o') + 1] ?? (stdin ? 'stdin' : '?');
      timings.push({
        agent: name,
        transport,
        action: `${action}${stdin ? ' (stdin)' : ''}`,
        theirs: theirs.ms,
        ours: mine.ms,
      });
      return { theirs, ours: mine };
    },
  };
}
