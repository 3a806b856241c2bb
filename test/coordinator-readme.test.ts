/**
 * README's "The HA coordinator" commands, replayed as written, in a network namespace of their own (so the fixed
 * ports 54321 and 54380 are private to this test) and a private mount namespace whose /var/lib is an empty tmpfs
 * (so the embedded etcd's data directory, /var/lib/vdsm-ts/coordinator/etcd, is this test's and leaves nothing on
 * the machine). vdsmd runs as `npm start` runs it, `serve` as README writes it (without its `&`: the test starts it
 * in the background itself), on the embedded default: no config file. Every client command must exit 0 with what
 * README says; a command added to or dropped from the section breaks this test until both agree. Needs root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
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
import { pollUntil } from './support/wait.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
const CLI = 'node dist/cli/vdsm-ts-coordinator.js';

/** The lines of the section's ```sh block that run the coordinator's CLI, comments dropped. */
function sectionCommands(): string[] {
  const start = README.indexOf('\n## The HA coordinator\n');
  if (start < 0) throw new Error('README.md has no "## The HA coordinator" section');
  const end = README.indexOf('\n## ', start + 5);
  const block = /\n```sh\n([\s\S]*?)\n```/.exec(README.slice(start, end < 0 ? undefined : end));
  if (!block) throw new Error('the coordinator section has no sh block');
  return block[1]!
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.startsWith(CLI));
}

/** What each client command must print (a `hosts` retried until the leader has polled the host). */
const CHECKS: Record<string, RegExp> = {
  'host add host1 --address 127.0.0.1 --port 54321': /queued for the leader: add host host1/,
  hosts: /^host1\s+Up\s+Default\s+127\.0\.0\.1:54321\b/m,
  status: /leader, epoch \d+/,
  events: /command: host-add host1 by /,
};

describe.skipIf(missing('root and ip netns', process.getuid?.() !== 0 || !existsSync(IP)))(
  "README's coordinator commands on the embedded default",
  () => {
    const ns = `vts${process.pid}-${randomBytes(2).toString('hex')}-coord`;
    const dir = mkdtempSync(join(tmpdir(), 'vts-coord-readme-'));
    const procs: { child: ChildProcess; start: number | undefined }[] = [];
    let nsMade = false;
    const commands = sectionCommands();

    const inNs = (command: string, timeoutMs = 20_000) =>
      execBounded(IP, ['netns', 'exec', ns, 'bash', '-c', `cd ${JSON.stringify(ROOT)} && ${command}`], {
        timeoutMs,
        env: ENV,
      });

    /** A daemon in the namespace, /var/lib an empty tmpfs for it; one pid to stop (bash execs it). */
    const daemon = (command: string, logFile: string): ChildProcess => {
      const out = openSync(logFile, 'a');
      try {
        const script = `mount -t tmpfs tmpfs /var/lib && cd ${JSON.stringify(ROOT)} && exec ${command}`;
        const child = spawn(
          IP,
          ['netns', 'exec', ns, 'unshare', '-m', '--propagation', 'private', 'bash', '-c', script],
          {
            env: ENV,
            stdio: ['ignore', out, out],
          },
        );
        child.on('error', () => undefined);
        procs.push({ child, start: child.pid !== undefined ? startTimeOf(child.pid) : undefined });
        return child;
      } finally {
        closeSync(out);
      }
    };

    beforeAll(async () => {
      await ip(['netns', 'add', ns]);
      nsMade = true;
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      const vdsmdLog = join(dir, 'vdsmd.log');
      const vdsmd = daemon('node dist/cli/vdsmd.js', vdsmdLog);
      await waitForLog(vdsmdLog, /"msg":"vdsmd ready"/, 20_000, 'vdsmd', {
        everyMs: 100,
        running: () => isRunning(vdsmd),
      });
      const serveLine = commands.find((c) => / serve\b/.test(c));
      expect(serveLine, 'README starts serve in the background').toBe(`${CLI} serve &`);
      const serveLog = join(dir, 'serve.log');
      const serve = daemon(serveLine!.replace(/\s*&$/, ''), serveLog);
      await waitForLog(serveLog, /coordinator API listening/, 40_000, 'serve', {
        everyMs: 100,
        running: () => isRunning(serve),
      });
    }, 70_000);

    afterAll(async () => {
      for (const p of procs)
        if (p.child.pid !== undefined && alive(p.child.pid, p.start)) await stopPids([p.child.pid], 8000);
      if (nsMade) await destroyBed([ns], undefined);
      rmSync(dir, { recursive: true, force: true });
    }, 30_000);

    it('serve runs its own etcd with no config file: plaintext to hosts, API on 127.0.0.1:54380', async () => {
      const text = readFileSync(join(dir, 'serve.log'), 'utf8');
      expect(text).toMatch(/embedded etcd started/);
      const listening = await execBounded(IP, ['netns', 'exec', ns, 'ss', '-Hltnp'], { timeoutMs: 5000 });
      expect(listening.stdout).toMatch(/127\.0\.0\.1:54380\b.*"node"/);
      expect(listening.stdout).not.toMatch(/\*:54380|\[::\]:54380|0\.0\.0\.0:54380/);
    });

    it('every client command of the section exits 0 with the output README promises', async () => {
      const clients = commands.filter((c) => !/ serve\b/.test(c));
      const used: string[] = [];
      for (const command of clients) {
        const words = command.slice(CLI.length).trim();
        const check = CHECKS[words];
        expect(check, `no check for README's "${words}"`).toBeDefined();
        used.push(words);
        let last = { code: -1, stdout: '', stderr: '' };
        // The leader polls the host within a few seconds of `host add`; `hosts` shows Up from then on.
        const ok = await pollUntil(
          async () => {
            last = await inNs(command);
            return last.code === 0 && check!.test(last.stdout);
          },
          30_000,
          500,
        );
        expect(ok, `${command}\nexited ${last.code}:\n${last.stderr}${last.stdout}`).toBe(true);
      }
      expect(used.sort()).toEqual(Object.keys(CHECKS).sort());
    }, 120_000);
  },
);
