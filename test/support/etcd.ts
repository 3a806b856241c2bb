/**
 * Real etcd for tests (no vitest here): 1 or 3 members on loopback free ports, each stopped by its pid, any of them
 * frozen (SIGSTOP/SIGCONT) or killed; and a leadership candidate in a child process of its own, so that a test can
 * freeze a leader's whole process, timers included (an in-process fake clock cannot stop a real lease's renewals).
 *
 * Run as a program (`node --import tsx test/support/etcd.ts candidate CONFIG`), this file is that candidate: it
 * campaigns, prints one JSON line per event on stdout and answers one JSON command per stdin line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRevisionIs, EtcdClient } from '../../src/coordinator/etcd/client.js';
import {
  type EtcdMember,
  findEtcd,
  freeLoopbackPorts,
  type MemberSpec,
  spawnMember,
  waitHealthy,
} from '../../src/coordinator/etcd/embedded.js';
import { Leadership } from '../../src/coordinator/etcd/leadership.js';
import { ROOT } from './paths.js';

export { findEtcd };

export interface TestMember extends EtcdMember {
  freeze(): void;
  thaw(): void;
  kill(): Promise<void>;
}

export interface TestEtcd {
  /** Every member's client URL. */
  endpoints: string[];
  members: TestMember[];
  /** Stops every member (thawing frozen ones first) and removes the data directories. */
  stop(): Promise<void>;
}

/** Starts `size` members as one cluster and waits until each one is healthy. */
export async function startTestEtcd(size: 1 | 3, startTimeoutMs = 30_000): Promise<TestEtcd> {
  const binary = findEtcd();
  if (!binary) throw new Error('etcd is not installed (scripts/setup.sh test installs Debian’s etcd-server)');
  const dir = mkdtempSync(join(tmpdir(), 'vdsm-ts-etcd-'));
  const ports = await freeLoopbackPorts(size * 2);
  const specs: MemberSpec[] = Array.from({ length: size }, (_, i) => ({
    name: `m${i + 1}`,
    dataDir: join(dir, `m${i + 1}`),
    clientPort: ports[2 * i]!,
    peerPort: ports[2 * i + 1]!,
  }));
  const cluster = { members: specs, token: `test-${randomBytes(6).toString('hex')}` };
  const members: TestMember[] = specs.map((spec) => {
    const m = spawnMember(binary, spec, cluster);
    const signal = (s: NodeJS.Signals) => {
      if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill(s);
    };
    return Object.assign(m, {
      freeze: () => signal('SIGSTOP'),
      thaw: () => signal('SIGCONT'),
      kill: async () => {
        signal('SIGKILL');
        await m.exited;
      },
    });
  });
  const stop = async () => {
    await Promise.all(members.map((m) => m.stop(2000)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(members.map((m) => waitHealthy(m, startTimeoutMs)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoints: members.map((m) => m.clientUrl), members, stop };
}

// ---- the candidate in a child process

export interface CandidateConfig {
  endpoints: string[];
  election: string;
  candidate: string;
  ttlSeconds: number;
  marginMs: number;
}

export type CandidateEvent =
  | { event: 'elected'; epoch: number; key: string }
  | { event: 'lost'; epoch: number; reason: string }
  | { event: 'aborted'; epoch: number; reason: string };

export interface CandidateStatus {
  leader: boolean;
  epoch: number | null;
}

/** A candidate process: its events as they come, and commands answered in order. */
export class CandidateProcess {
  readonly events: CandidateEvent[] = [];
  private readonly answers: ((value: any) => void)[] = [];
  private stderr = '';

  private constructor(readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let msg: any;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if ('event' in msg) this.events.push(msg as CandidateEvent);
      else this.answers.shift()?.(msg);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => (this.stderr = (this.stderr + c).slice(-4000)));
  }

  static start(config: CandidateConfig): CandidateProcess {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), 'candidate', JSON.stringify(config)],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH } },
    );
    return new CandidateProcess(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  elected(): (CandidateEvent & { event: 'elected' }) | undefined {
    return this.events.find((e): e is CandidateEvent & { event: 'elected' } => e.event === 'elected');
  }

  /** Sends one command; resolves with its answer (bounded). */
  command<T = any>(cmd: Record<string, unknown>, timeoutMs = 15_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`candidate ${this.pid} did not answer ${String(cmd.cmd)}; stderr: ${this.stderr}`)),
        timeoutMs,
      );
      this.answers.push((v: T) => {
        clearTimeout(timer);
        resolve(v);
      });
      this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    });
  }

  status(): Promise<CandidateStatus> {
    return this.command({ cmd: 'status' });
  }

  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  thaw(): void {
    this.child.kill('SIGCONT');
  }

  /** Asks it to stop (resign, revoke), then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGCONT');
    this.child.stdin!.end(JSON.stringify({ cmd: 'stop' }) + '\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The candidate program. Commands: `status` → {leader, epoch}; `guarded` → a put of `key` guarded by leadership
 * ({ok} or {error, name}); `raw-guarded` → the same txn sent straight to etcd with the last epoch, whatever the
 * local deadline says ({succeeded} or {error}); `stop`.
 */
async function candidateMain(config: CandidateConfig): Promise<void> {
  const print = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
  const etcd = new EtcdClient({ endpoints: config.endpoints, timeoutMs: 2000 });
  let last: { epoch: number; key: string } | undefined;
  const leadership = new Leadership({
    etcd,
    election: config.election,
    candidate: config.candidate,
    ttlSeconds: config.ttlSeconds,
    marginMs: config.marginMs,
    retryMs: 300,
    campaignTimeoutMs: 10_000,
    onElected: (term) => {
      last = { epoch: term.epoch, key: term.key };
      term.signal.addEventListener('abort', () =>
        print({ event: 'aborted', epoch: term.epoch, reason: String((term.signal.reason as Error)?.message) }),
      );
      print({ event: 'elected', epoch: term.epoch, key: term.key });
    },
    onLost: (term, reason) => print({ event: 'lost', epoch: term.epoch, reason }),
  });
  leadership.start();
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const cmd = JSON.parse(line) as { cmd: string; key?: string; value?: string };
    if (cmd.cmd === 'status') print({ leader: leadership.isLeader(), epoch: leadership.epoch ?? null });
    else if (cmd.cmd === 'guarded') {
      try {
        await leadership.guarded([{ op: 'put', key: cmd.key!, value: cmd.value ?? '' }]);
        print({ ok: true });
      } catch (err) {
        print({ error: (err as Error).message, name: (err as Error).name });
      }
    } else if (cmd.cmd === 'raw-guarded') {
      if (!last) print({ error: 'never elected' });
      else {
        try {
          const r = await etcd.txn({
            compare: [createRevisionIs(last.key, last.epoch)],
            success: [{ op: 'put', key: cmd.key!, value: cmd.value ?? '' }],
          });
          print({ succeeded: r.succeeded });
        } catch (err) {
          print({ error: (err as Error).message });
        }
      }
    } else if (cmd.cmd === 'stop') break;
  }
  await leadership.stop();
  process.exit(0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === 'candidate') {
  void candidateMain(JSON.parse(process.argv[3]!) as CandidateConfig);
}
