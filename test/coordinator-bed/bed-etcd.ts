/**
 * The bed's etcd: 1 or 3 members on loopback, built from the same parts as test/support/etcd.ts
 * (src/coordinator/etcd/embedded.ts), and in addition restartable: every member can be stopped and started again on
 * its ports and data, so that "etcd unreachable, then back" is a real outage and a real return. No vitest here.
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

export class BedEtcd {
  private members: (EtcdMember | undefined)[];

  private constructor(
    private readonly binary: string,
    private readonly cluster: ClusterSpec,
    private readonly dir: string,
  ) {
    this.members = cluster.members.map(() => undefined);
  }

  static async start(size: 1 | 3): Promise<BedEtcd> {
    const binary = findEtcd();
    if (!binary) throw new Error('etcd is not installed (scripts/setup.sh test installs Debian’s etcd-server)');
    const dir = mkdtempSync(join(tmpdir(), 'bed-etcd-'));
    const ports = await freeLoopbackPorts(size * 2);
    const cluster: ClusterSpec = {
      token: `bed-${randomBytes(6).toString('hex')}`,
      members: Array.from({ length: size }, (_, i) => ({
        name: `m${i + 1}`,
        dataDir: join(dir, `m${i + 1}`),
        clientPort: ports[2 * i]!,
        peerPort: ports[2 * i + 1]!,
      })),
    };
    const etcd = new BedEtcd(binary, cluster, dir);
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
      (spec, i) => this.members[i] ?? spawnMember(this.binary, spec, this.cluster),
    );
    await Promise.all(this.members.map((m) => waitHealthy(m!, timeoutMs)));
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
