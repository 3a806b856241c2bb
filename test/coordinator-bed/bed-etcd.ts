/**
 * The bed's etcd: 1 or 3 members on loopback, built from the same parts as test/support/etcd.ts
 * (src/coordinator/etcd/embedded.ts), and in addition restartable: every member can be stopped and started again on
 * its ports and data, so that "etcd unreachable, then back" is a real outage and a real return. In the netns bed each
 * member is in a namespace of its own, on its address and etcd's usual ports, and its health is asked there with
 * etcdctl (the harness cannot reach it). No vitest here.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ClusterSpec,
  clientUrl,
  type EtcdMember,
  findEtcd,
  freeLoopbackPorts,
  spawnMember,
  waitHealthy,
} from '../../src/coordinator/etcd/embedded.js';
import { runCommand } from '../support/run-command.js';
import { sleep } from '../support/wait.js';

/** A member on a machine of its own: its address and `ip netns exec NS`. */
export interface EtcdPlace {
  address: string;
  wrap: string[];
}

const ETCDCTL = 'etcdctl';

export class BedEtcd {
  private members: (EtcdMember | undefined)[];

  private constructor(
    private readonly binary: string,
    private readonly cluster: ClusterSpec,
    private readonly dir: string,
    private readonly places: EtcdPlace[] | undefined,
  ) {
    this.members = cluster.members.map(() => undefined);
  }

  /** `size` members on loopback, or one in each of `places`. */
  static async start(size: 1 | 3, places?: EtcdPlace[]): Promise<BedEtcd> {
    const binary = findEtcd();
    if (!binary) throw new Error('etcd is not installed (scripts/setup.sh test installs Debian’s etcd-server)');
    if (places && places.length !== size) throw new Error(`bed-etcd: ${size} members, ${places.length} places`);
    const dir = mkdtempSync(join(tmpdir(), 'bed-etcd-'));
    const ports = places ? places.flatMap(() => [2379, 2380]) : await freeLoopbackPorts(size * 2);
    const cluster: ClusterSpec = {
      token: `bed-${randomBytes(6).toString('hex')}`,
      members: Array.from({ length: size }, (_, i) => ({
        name: `m${i + 1}`,
        dataDir: join(dir, `m${i + 1}`),
        clientPort: ports[2 * i]!,
        peerPort: ports[2 * i + 1]!,
        ...(places ? { host: places[i]!.address } : {}),
      })),
    };
    const etcd = new BedEtcd(binary, cluster, dir, places);
    try {
      await etcd.startAll();
    } catch (err) {
      await etcd.stop();
      throw err;
    }
    return etcd;
  }

  get endpoints(): string[] {
    return this.cluster.members.map(clientUrl);
  }

  /** Starts every member that is not running (same ports, same data) and waits until each is healthy. */
  async startAll(timeoutMs = 30_000): Promise<void> {
    this.members = this.cluster.members.map(
      (spec, i) => this.members[i] ?? spawnMember(this.binary, spec, this.cluster, this.places?.[i]?.wrap),
    );
    await Promise.all(
      this.members.map((m, i) =>
        this.places ? this.healthyThere(m!, this.places[i]!, timeoutMs) : waitHealthy(m!, timeoutMs),
      ),
    );
  }

  /** `etcdctl endpoint health` in the member's namespace until it says healthy (bounded). */
  private async healthyThere(m: EtcdMember, place: EtcdPlace, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (m.child.exitCode !== null || m.child.signalCode !== null)
        throw new Error(`etcd member ${m.name} exited while starting: ${m.stderrTail() || 'no output'}`);
      const r = await runCommand(
        place.wrap[0]!,
        [...place.wrap.slice(1), ETCDCTL, `--endpoints=${m.clientUrl}`, '--command-timeout=2s', 'endpoint', 'health'],
        { env: { PATH: process.env.PATH, ETCDCTL_API: '3' }, timeoutMs: 5000 },
      );
      if (r.code === 0) return;
      last = `${r.stdout}${r.stderr}`.trim().slice(-300);
      await sleep(200);
    }
    throw new Error(`etcd member ${m.name} did not become healthy within ${timeoutMs} ms (${last})`);
  }

  /** SIGKILL every member: etcd is gone at once, as a machine losing power would lose it. */
  async killAll(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        if (!m) return;
        m.child.kill('SIGKILL');
        await m.exited;
      }),
    );
    this.members = this.members.map(() => undefined);
  }

  pids(): number[] {
    return this.members.filter((m): m is EtcdMember => m !== undefined).map((m) => m.pid);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m?.stop(2000)));
    this.members = this.members.map(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
