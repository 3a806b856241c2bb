/**
 * One command over SSH for soft fencing (ssh2, in process: the private key never reaches a child's argv or
 * environment). The server's host key must match the pinned OpenSSH SHA256 fingerprint: ssh2 asks before the key
 * exchange ends, so a wrong server is dropped before anything is sent to authenticate.
 */
import { Client, type ClientChannel } from 'ssh2';
import type { Secret } from '../secrets.js';
import { sha256Fingerprint } from './fingerprint.js';

export interface SshExecOptions {
  host: string;
  port: number;
  user: string;
  /** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
  hostKeySha256: string;
  privateKey: Secret;
  command: string;
  /** TCP connect, key exchange and authentication together (default 10 s). */
  connectTimeoutMs?: number;
  /** The command from its start to its exit (default 30 s). */
  execTimeoutMs?: number;
  /** Ends the attempt at once; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SshExecResult {
  /** The command ran and exited 0. */
  ok: boolean;
  detail: string;
}

/** What the command printed, last bytes only (stdout and stderr together), for the detail. */
const TAIL_BYTES = 512;

export function sshExec(o: SshExecOptions): Promise<SshExecResult> {
  const where = `${o.user}@${o.host}:${o.port}`;
  const connectMs = o.connectTimeoutMs ?? 10_000;
  const execMs = o.execTimeoutMs ?? 30_000;
  return new Promise<SshExecResult>((resolve, reject) => {
    const client = new Client();
    let presented: string | undefined;
    let output = '';
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (done: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', aborted);
      client.destroy();
      done();
    };
    const fail = (detail: string) => settle(() => resolve({ ok: false, detail }));
    const aborted = () => settle(() => reject(o.signal!.reason));
    if (o.signal?.aborted) return aborted();
    o.signal?.addEventListener('abort', aborted, { once: true });
    timer = setTimeout(() => fail(`no SSH session with ${where} within ${connectMs} ms`), connectMs);

    client.on('error', (err: Error & { level?: string }) => {
      if (presented !== undefined && presented !== o.hostKeySha256)
        return fail(
          `refused ${where}: its host key is ${presented}, not the pinned ${o.hostKeySha256}; nothing was sent to authenticate`,
        );
      fail(`ssh to ${where} failed${err.level ? ` (${err.level})` : ''}: ${err.message}`);
    });
    client.on('close', () => fail(`ssh to ${where}: the connection closed before the command finished`));
    client.on('ready', () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(`${where}: the command did not finish within ${execMs} ms`), execMs);
      client.exec(o.command, (err, stream) => {
        if (err) return fail(`${where}: the command could not be started: ${err.message}`);
        run(stream);
      });
    });

    const run = (stream: ClientChannel) => {
      let exit: { code: number | null; signal?: string } | undefined;
      const keep = (d: Buffer) => (output = (output + d.toString('utf8')).slice(-TAIL_BYTES));
      stream.on('data', keep);
      stream.stderr.on('data', keep);
      stream.on('exit', (code: number | null, signal?: string) => (exit = { code, signal }));
      stream.on('close', () => {
        const said = output.trim() ? `: ${output.trim()}` : '';
        if (exit?.code === 0) return settle(() => resolve({ ok: true, detail: `${where}: exit 0${said}` }));
        const how = exit === undefined ? 'no exit status' : exit.signal ? `signal ${exit.signal}` : `exit ${exit.code}`;
        fail(`${where}: ${how}${said}`);
      });
    };

    try {
      client.connect({
        host: o.host,
        port: o.port,
        username: o.user,
        privateKey: o.privateKey.bytes(),
        readyTimeout: connectMs,
        // Without hostHash, ssh2 hands over the key blob itself, so the fingerprint is computed as OpenSSH does.
        hostVerifier: (blob: Buffer) => {
          presented = sha256Fingerprint(blob);
          return presented === o.hostKeySha256;
        },
        tryKeyboard: false,
      });
    } catch (err) {
      // ssh2 parses the key here; its messages name the problem, not the key.
      fail(`the private key for ${where} cannot be used: ${(err as Error).message}`);
    }
  });
}
