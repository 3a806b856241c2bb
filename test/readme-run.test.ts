/**
 * README's run command and its "Try it" commands, replayed as written. vdsmd runs exactly as `npm start` runs it
 * once built (package.json's start script after its build step: `node dist/cli/vdsmd.js`; this test does not
 * rebuild), on its embedded default (no config file: plaintext on 127.0.0.1, the fixed port 54321), but inside a
 * network namespace of its own, so 54321 is private to this test. Then every command of README's "## Try it"
 * section (its ```sh blocks that call vdsm-client: the first and the VM block) runs in that namespace, through bash, from the repository root: each must exit 0
 * with output that says it did what README says. The commands come from README.md itself: a command added to or
 * dropped from README, or a changed start script, breaks this test until the product and the checks agree.
 * Needs root (ip netns).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IP, execBounded, ip } from './cluster/netns-ip.js';
import { destroyBed } from './cluster/netns-leaks.js';
import { waitForLog } from './support/logs.js';
import { ROOT } from './support/paths.js';
import { missing } from './support/peers.js';
import { alive, startTimeOf, stopPids } from './support/proc-pids.js';
import { isRunning } from './support/processes.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** Only what a fresh shell would have: no VDSM_* setting of the test runner reaches vdsmd or the client. */
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
const VM_ID = '5f2b7c1e-1111-4222-8333-944455556666';

/**
 * The commands of the ```sh blocks of a `## ` section that run vdsm-client (the section goes on with the
 * hosted-engine cluster and the fence agents, which are not about this vdsmd); a line ending in `|` or `\` goes on
 * with the next.
 */
export function shellCommands(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "${heading}" section`);
  const end = markdown.indexOf('\n## ', start + heading.length + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const commands: string[] = [];
  for (const block of section.matchAll(/\n```sh\n([\s\S]*?)\n```/g)) {
    if (!block[1]!.includes('node dist/cli/vdsm-client.js')) continue;
    let pending = '';
    for (const line of block[1]!.split('\n')) {
      if (!line.trim()) continue;
      pending = pending ? `${pending}\n${line}` : line;
      if (!/[|\\]\s*$/.test(line)) {
        commands.push(pending);
        pending = '';
      }
    }
    if (pending) commands.push(pending);
  }
  return commands;
}

const json = (stdout: string): any => JSON.parse(stdout);

/**
 * What each README command must print, keyed by the client's words after its options (`Host ping2`, `Host -h`).
 * Every README client command needs one, and every check must be used.
 */
const CHECKS: Record<string, (stdout: string) => void> = {
  'Host ping2': (out) => expect(json(out)).toEqual(true),
  'Host getStats': (out) => {
    const s = json(out);
    expect(s).toMatchObject({
      memAvailable: expect.any(Number),
      cpuIdle: expect.anything(),
      haStats: { configured: false },
    });
  },
  'Host -h': (out) => {
    expect(out).toMatch(/\bping2\b/);
    expect(out).toMatch(/\bgetStats\b/);
    expect(out).toMatch(/\bgetVMList\b/);
    expect(out).toMatch(/\bsetHaMaintenanceMode\b/);
  },
  'Host setHaMaintenanceMode -h': (out) => {
    expect(out).toMatch(/\bmode\b/);
    expect(out).toMatch(/\benabled\b/);
    expect(out).toMatch(/\{[\s\S]*"mode"[\s\S]*\}/); // the JSON template for -f
  },
  // The test driver's one running domain, recovered by vdsmd at start.
  'Host getVMList': (out) => {
    const list = json(out) as { vmId: string; status: string }[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ vmId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'Up' });
  },
  'VM create': (out) => expect(json(out)).toMatchObject({ vmId: VM_ID, status: 'WaitForLaunch' }),
  [`VM getStats vmID=${VM_ID}`]: (out) => {
    const stats = json(out) as { vmId: string; status: string }[];
    expect(stats).toHaveLength(1);
    expect(stats[0]).toMatchObject({ vmId: VM_ID, status: expect.stringMatching(/^(WaitForLaunch|Powering up|Up)$/) });
  },
};
/** README commands of the section that are not client calls, and why they are not run here. */
const NOT_RUN: Record<string, string> = {
  'npm run bench:virt': 'rebuilds dist/ and runs a benchmark of several minutes; bench/ is not what "Try it" promises',
};

/** The client's words after its options: `node dist/cli/vdsm-client.js --insecure -f - VM create  # x` → `VM create`. */
function clientWords(command: string): string | undefined {
  const last = command.split('\n').at(-1)!.replace(/#.*$/, '').trim();
  const m = /^node dist\/cli\/vdsm-client\.js((?:\s+(?:--insecure|-f\s+\S+))*)\s+(.+)$/.exec(last);
  return m?.[2]!.trim();
}

describe.skipIf(missing('root and ip netns', process.getuid?.() !== 0 || !existsSync(IP)))(
  "README's run command and its Try-it commands",
  () => {
    const ns = `vts${process.pid}-${randomBytes(2).toString('hex')}-readme`;
    const dir = mkdtempSync(join(tmpdir(), 'vts-readme-'));
    const log = join(dir, 'vdsmd.log');
    let vdsmd: ChildProcess | undefined;
    let vdsmdStart: number | undefined;
    let nsMade = false;

    const inNs = (command: string) =>
      execBounded(
        IP,
        ['netns', 'exec', ns, 'bash', '-o', 'pipefail', '-c', `cd ${JSON.stringify(ROOT)} && ${command}`],
        { timeoutMs: 30_000, env: ENV },
      );

    beforeAll(async () => {
      await ip(['netns', 'add', ns]);
      nsMade = true;
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      // `npm start` is "build, then run": the run part of package.json's start script, exactly.
      const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } })
        .scripts.start;
      const run = start.split('&&').at(-1)!.trim();
      expect(start.split('&&')[0]!.trim(), 'the start script builds first').toBe('npm run build');
      expect(run).toBe('node dist/cli/vdsmd.js');
      const out = openSync(log, 'a');
      try {
        // exec: the namespace's process is bash's, then node's, one pid to stop.
        vdsmd = spawn(IP, ['netns', 'exec', ns, 'bash', '-c', `cd ${JSON.stringify(ROOT)} && exec ${run}`], {
          env: ENV,
          stdio: ['ignore', out, out],
        });
      } finally {
        closeSync(out);
      }
      vdsmd.on('error', () => undefined);
      vdsmdStart = vdsmd.pid !== undefined ? startTimeOf(vdsmd.pid) : undefined;
      const child = vdsmd;
      await waitForLog(log, /"msg":"vdsmd ready"/, 20_000, `vdsmd in ${ns}`, {
        everyMs: 100,
        running: () => isRunning(child),
      });
    }, 30_000);

    afterAll(async () => {
      // vdsmd by pid (SIGTERM, then SIGKILL), then anything else left in the namespace by pid, then the namespace.
      const pid = vdsmd?.pid;
      if (pid !== undefined && alive(pid, vdsmdStart)) await stopPids([pid], 5000);
      if (nsMade) await destroyBed([ns], undefined);
      rmSync(dir, { recursive: true, force: true });
    }, 20_000);

    it('runs on the embedded default: no config file, plaintext on 127.0.0.1:54321, inside its own namespace', async () => {
      const text = readFileSync(log, 'utf8');
      expect(text).toMatch(/no config file: running on the embedded defaults/);
      const listening = await execBounded(IP, ['netns', 'exec', ns, 'ss', '-Hltnp'], { timeoutMs: 5000 });
      expect(listening.stdout).toMatch(/127\.0\.0\.1:54321\b.*"node"/);
      expect(listening.stdout).not.toMatch(/\*:54321|\[::\]:54321|0\.0\.0\.0:54321/);
    });

    it('every "Try it" command of README exits 0 with the output README promises', async () => {
      const commands = shellCommands(README, '## Try it');
      const used = new Set<string>();
      const results: string[] = [];
      for (const command of commands) {
        const bare = command.replace(/#.*$/, '').trim();
        if (NOT_RUN[bare]) {
          results.push(`not run: ${bare} (${NOT_RUN[bare]})`);
          used.add(`not run: ${bare}`);
          continue;
        }
        const words = clientWords(command);
        expect(words, `README command is neither a vdsm-client call nor listed in NOT_RUN: ${command}`).toBeDefined();
        const check = CHECKS[words!];
        expect(check, `no check for README's "${words}" (${command})`).toBeDefined();
        used.add(words!);
        const r = await inNs(command);
        expect(r.code, `${command}\nexited ${r.code}:\n${r.stderr}${r.stdout}`).toBe(0);
        check!(r.stdout);
        results.push(`ok (exit 0, ${r.stdout.length} bytes): ${words}`);
      }
      console.log(`readme-run: ${commands.length} commands from README's "Try it":\n  ${results.join('\n  ')}`);
      expect([...used].sort(), 'every check and every NOT_RUN entry matches a README command').toEqual(
        [...Object.keys(CHECKS), ...Object.keys(NOT_RUN).map((c) => `not run: ${c}`)].sort(),
      );
    }, 120_000);
  },
);
