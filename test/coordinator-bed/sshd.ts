/**
 * A bed host's OpenSSH server for soft fencing: `/usr/sbin/sshd -D` on a free 127.0.0.1 port with its own config,
 * ed25519 host key and pid file in a private temp dir, stopped by pid (as test/fixtures/cli-device/openssh-server.ts
 * runs one). Public key only, as the current user, with the bed's one unencrypted client key (the coordinator's).
 * Its ForceCommand is restart-vdsmd.sh for this host: whatever the client runs, the harness gets a restart request
 * for this host's vdsmd (RestartDesk) and the command exits 0 only once vdsmd is back. No vitest here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logTail } from '../support/logs.js';
import { closedPort } from '../support/ports.js';
import { stopProcess } from '../support/processes.js';
import { answersSsh, fingerprint, keygen, sshdConfig } from '../support/sshd.js';
import { sleep } from '../support/wait.js';
import type { BedHost } from './bed-host.js';

export const SSHD = '/usr/sbin/sshd';
export { fingerprint, keygen };

const RESTART_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'restart-vdsmd.sh');

/** Where a host's sshd runs when not on loopback: its address and port there, and `ip netns exec NS`. */
export interface SshdPlace {
  address: string;
  port: number;
  wrap: string[];
}

/** One host's sshd; `down()` and `up()` follow the host's power (same port, same host key). */
export class BedSshd {
  port = 0;
  readonly user = userInfo().username;
  hostKeySha256 = '';
  private child: ChildProcess | undefined;
  private readonly dir: string;
  private attempts = 0;

  private constructor(
    readonly host: string,
    private readonly requestDir: string,
    private readonly place: SshdPlace | undefined,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `bed-sshd-${host}-`));
  }

  /** Where the coordinator reaches it. */
  get address(): string {
    return this.place?.address ?? '127.0.0.1';
  }

  static async start(host: string, clientPub: string, requestDir: string, place?: SshdPlace): Promise<BedSshd> {
    if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing (apt-get install -y openssh-server)`);
    const sshd = new BedSshd(host, requestDir, place);
    try {
      const hostKey = join(sshd.dir, 'host_ed25519');
      await keygen(hostKey);
      sshd.hostKeySha256 = await fingerprint(`${hostKey}.pub`);
      writeFileSync(join(sshd.dir, 'authorized_keys'), readFileSync(clientPub));
      if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
      const reasons: string[] = [];
      for (let attempt = 0; attempt < 4; attempt++) {
        sshd.port = place?.port ?? (await closedPort());
        const why = await sshd.launch();
        if (why === undefined) return sshd;
        reasons.push(why);
      }
      throw new Error(`sshd did not start:\n${reasons.join('\n')}`);
    } catch (e) {
      await sshd.close();
      throw e;
    }
  }

  get pid(): number | undefined {
    return this.running() ? this.child!.pid : undefined;
  }

  private running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts sshd on `port`; undefined once it answers, else why not. */
  private async launch(): Promise<string | undefined> {
    const config = join(this.dir, 'sshd_config');
    writeFileSync(
      config,
      sshdConfig(
        this.dir,
        this.port,
        this.user,
        [`ForceCommand ${RESTART_SCRIPT} ${this.requestDir} ${this.host}`],
        this.address,
      ),
    );
    const logPath = join(this.dir, `sshd-${this.attempts++}.log`);
    const fd = openSync(logPath, 'w');
    const wrap = this.place?.wrap ?? [];
    try {
      const argv = ['-D', '-e', '-f', config];
      this.child = wrap.length
        ? spawn(wrap[0]!, [...wrap.slice(1), SSHD, ...argv], { stdio: ['ignore', fd, fd] })
        : spawn(SSHD, argv, { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.child.on('error', () => undefined);
    for (let i = 0; i < 100; i++) {
      if (!this.running()) break;
      // in a namespace the harness cannot connect: sshd says when it listens (after its bind)
      if (wrap.length ? /Server listening on/.test(logTail(logPath, 4000)) : await answersSsh(this.port))
        return undefined;
      await sleep(50);
    }
    await stopProcess(this.child, 3000);
    return `port ${this.port}: ${logTail(logPath, 1000)}`;
  }

  /** The host lost power: its sshd is gone (SIGKILL). */
  async down(): Promise<void> {
    if (!this.running()) return;
    const gone = new Promise((r) => this.child!.once('exit', r));
    this.child!.kill('SIGKILL');
    await gone;
  }

  /** The host is powered on again: sshd on the same port. */
  async up(): Promise<void> {
    if (this.running()) return;
    const why = await this.launch();
    if (why !== undefined) throw new Error(`${this.host}: sshd did not come back: ${why}`);
  }

  log(): string {
    return logTail(join(this.dir, `sshd-${this.attempts - 1}.log`), 4000);
  }

  async close(): Promise<void> {
    await stopProcess(this.child, 3000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface RestartRequest {
  host: string;
  /** The command the SSH client asked for (SSH_ORIGINAL_COMMAND). */
  command: string;
  at: number;
  ok: boolean;
  detail: string;
}

/**
 * The harness's side of restart-vdsmd.sh: every 100 ms it looks for requests in its directory and restarts that
 * host's vdsmd (what it runs kept, as a service restart keeps its QEMUs), then answers ok or fail.
 */
export class RestartDesk {
  readonly dir: string;
  readonly served: RestartRequest[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly hosts: Map<string, BedHost>) {
    this.dir = mkdtempSync(join(tmpdir(), 'bed-restarts-'));
    this.loop = this.watch();
  }

  private async watch(): Promise<void> {
    while (!this.stopped) {
      for (const f of readdirSync(this.dir)
        .filter((n) => n.endsWith('.req'))
        .sort()) {
        const base = join(this.dir, f.slice(0, -'.req'.length));
        const command = readFileSync(join(this.dir, f), 'utf8').trim();
        rmSync(join(this.dir, f));
        const name = f.split('.')[0]!;
        const host = this.hosts.get(name);
        const at = Date.now();
        try {
          if (!host) throw new Error(`no bed host ${name}`);
          await host.restart();
          this.served.push({ host: name, command, at, ok: true, detail: `vdsmd back on port ${host.port}` });
          writeFileSync(`${base}.ok`, '');
        } catch (err) {
          const detail = (err as Error).message.slice(0, 500);
          this.served.push({ host: name, command, at, ok: false, detail });
          writeFileSync(`${base}.fail`, `restart failed: ${detail}\n`);
        }
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
