/**
 * A private OpenSSH server that runs commands (for soft fencing): `/usr/sbin/sshd -D` on a free 127.0.0.1 port with
 * its own config, ed25519 host key, pid file and authorized_keys in a temp dir, stopped by pid. Public key
 * authentication only, as the current user, with an unencrypted client key (the coordinator's keys have no
 * passphrase). The system's sshd config, keys and users are not touched (only /run/sshd, sshd's privilege
 * separation directory, is created if missing). No vitest here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { logTail } from './logs.js';
import { closedPort } from './ports.js';
import { stopProcess } from './processes.js';
import { runCommand } from './run-command.js';
import { sleep } from './wait.js';

const SSHD = '/usr/sbin/sshd';

export interface PrivateSshd {
  port: number;
  user: string;
  pid: number;
  /** The temp dir (config, keys, log); removed by close(). */
  dir: string;
  /** The client's private key file (unencrypted, mode 0600). */
  clientKey: string;
  /** The host key's fingerprint as `ssh-keygen -lf` prints it: `SHA256:…`. */
  hostKeySha256: string;
  /** sshd's own log (LogLevel VERBOSE). */
  log(): string;
  close(): Promise<void>;
}

/** An unencrypted ed25519 key pair at `file` and `file.pub`. */
export async function keygen(file: string): Promise<void> {
  const r = await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vdsm-ts test', '-f', file], {
    env: process.env,
    timeoutMs: 20_000,
  });
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

/** The key's fingerprint as `ssh-keygen -lf` prints it: `SHA256:…` (43 base64 characters). */
export async function fingerprint(pub: string): Promise<string> {
  const r = await runCommand('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub], { env: process.env });
  const m = /SHA256:[A-Za-z0-9+/]{43}/.exec(r.stdout);
  if (!m) throw new Error(`ssh-keygen -l printed no SHA256 fingerprint: ${r.stdout}${r.stderr}`);
  return m[0];
}

/** True once something on 127.0.0.1:port greets like an SSH server. */
export function answersSsh(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500);
    s.once('data', (d: Buffer) => (s.destroy(), resolve(d.toString('latin1').startsWith('SSH-'))));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
}

/**
 * A private sshd's config: public keys only, for `user`, files under `dir`; `extra` lines before the log level;
 * on 127.0.0.1 unless `listen` says.
 */
export function sshdConfig(
  dir: string,
  port: number,
  user: string,
  extra: string[] = [],
  listen = '127.0.0.1',
): string {
  return [
    `Port ${port}`,
    `ListenAddress ${listen}`,
    `HostKey ${join(dir, 'host_ed25519')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'AuthenticationMethods publickey',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${user}`,
    // the temp dir lives under /tmp (world-writable), which StrictModes would reject
    'StrictModes no',
    'UsePAM no',
    'PrintMotd no',
    'PrintLastLog no',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    // Debian's bash reads ~/.bashrc for an ssh command unless it is nested: SHLVL=1 makes it so
    'SetEnv SHLVL=1',
    ...extra,
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

export async function startPrivateSshd(): Promise<PrivateSshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing (apt-get install -y openssh-server)`);
  const dir = mkdtempSync(join(tmpdir(), 'vdsm-sshd-'));
  let child: ChildProcess | undefined;
  try {
    const user = userInfo().username;
    const clientKey = join(dir, 'client_ed25519');
    await keygen(join(dir, 'host_ed25519'));
    await keygen(clientKey);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
    const hostKeySha256 = await fingerprint(join(dir, 'host_ed25519.pub'));
    if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const reasons: string[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const port = await closedPort();
      const file = join(dir, 'sshd_config');
      writeFileSync(file, sshdConfig(dir, port, user));
      const logPath = join(dir, 'sshd.log');
      const fd = openSync(logPath, 'w');
      try {
        child = spawn(SSHD, ['-D', '-e', '-f', file], { stdio: ['ignore', fd, fd] });
      } finally {
        closeSync(fd);
      }
      child.on('error', () => undefined);
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        if (child.exitCode !== null || child.signalCode !== null) break;
        up = await answersSsh(port);
        if (!up) await sleep(50);
      }
      if (up && child.pid !== undefined) {
        const sshd = child;
        let closed: Promise<void> | undefined;
        return {
          port,
          user,
          pid: sshd.pid!,
          dir,
          clientKey,
          hostKeySha256,
          log: () => logTail(logPath, 100_000),
          close: () =>
            (closed ??= (async () => {
              await stopProcess(sshd, 3000);
              rmSync(dir, { recursive: true, force: true });
            })()),
        };
      }
      await stopProcess(child, 3000);
      reasons.push(`port ${port}: ${logTail(logPath, 1000)}`);
    }
    throw new Error(`sshd did not start:\n${reasons.join('\n')}`);
  } catch (e) {
    await stopProcess(child, 3000);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
