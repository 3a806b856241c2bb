/**
 * SSH transport for device command lines, in process on ssh2: password (or keyboard-interactive answered with the
 * password) or identity_file (its passphrase from the password option), then an interactive shell on a pty.
 *
 * Host keys. ClusterLabs runs OpenSSH and answers "yes" to an unknown host key; a known host whose key changed is
 * refused by ssh itself. We do the same without a child: the key is checked against the known_hosts files
 * (UserKnownHostsFile from ssh_options, else ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts, hashed entries
 * included). A host listed there must present a listed key (or the connection is refused); a host not listed is
 * accepted unless ssh_options says `StrictHostKeyChecking=yes`; nothing is ever written. Other ssh_options (`-1`,
 * `-c blowfish`, ...) have no meaning here and are ignored.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { FenceError, type FenceOptions } from '../agent.js';
import { BufferedSession } from './buffered-session.js';

export class SshSession extends BufferedSession {
  constructor(
    private readonly client: ssh2.Client,
    private readonly channel: ClientChannel,
  ) {
    super();
    channel.on('data', (d: Buffer) => this.received(d));
    channel.stderr.on('data', (d: Buffer) => this.received(d));
    channel.on('close', () => this.eof());
    client.on('close', () => this.eof());
    client.on('error', () => this.eof());
  }

  protected write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.channel.writable) return reject(new Error('channel closed'));
      this.channel.write(bytes, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.client.once('close', () => resolve());
      this.channel.end();
      this.client.end();
      setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 200).unref();
    });
  }
}

/** `-o Key=Value` settings from ssh_options (keys lower-cased); everything else there is ignored. */
export function sshConfigOptions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const words = text.trim().split(/\s+/);
  for (let i = 0; i < words.length; i++) {
    let setting: string | undefined;
    if (words[i] === '-o') setting = words[++i];
    else if (words[i]!.startsWith('-o')) setting = words[i]!.slice(2);
    const m = setting ? /^([A-Za-z]+)[= ]?(.*)$/.exec(setting) : null;
    if (m) out.set(m[1]!.toLowerCase(), m[2]!);
  }
  return out;
}

function glob(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
    .replace(/\[/g, '\\[')
    .replace(/\]/g, '\\]');
  return new RegExp(`^${re}$`, 'i').test(name);
}

function hostMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    return createHmac('sha1', Buffer.from(salt!, 'base64')).update(name).digest('base64') === hash;
  }
  let hit = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!') && glob(p.slice(1), name)) return false;
    if (glob(p, name)) hit = true;
  }
  return hit;
}

/** The keys known_hosts lists for this host (base64 blobs), and keys marked revoked. */
function knownKeys(files: string[], host: string, port: number): { keys: Set<string>; revoked: Set<string> } {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const keys = new Set<string>();
  const revoked = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const raw of text.split('\n')) {
      const words = raw.trim().split(/\s+/);
      if (words[0] === '' || words[0]!.startsWith('#')) continue;
      const marker = words[0]!.startsWith('@') ? words.shift() : undefined;
      if (marker === '@cert-authority' || words.length < 3 || !hostMatches(words[0]!, name)) continue;
      (marker === '@revoked' ? revoked : keys).add(words[2]!);
    }
  }
  return { keys, revoked };
}

/** Connects, authenticates and opens a shell on a pty; timeoutMs bounds the whole handshake (0 = no limit). */
export function openSsh(opts: FenceOptions, timeoutMs: number): Promise<SshSession> {
  const host = String(opts.ipaddr);
  const port = Number(opts.ipport ?? 22) || 22;
  const config = sshConfigOptions(typeof opts.ssh_options === 'string' ? opts.ssh_options : '');
  const knownFiles = config.has('userknownhostsfile')
    ? config
        .get('userknownhostsfile')!
        .split(/\s+/)
        .map((f) => f.replace(/^~/, homedir()))
    : [`${homedir()}/.ssh/known_hosts`, '/etc/ssh/ssh_known_hosts'];
  const strict = config.get('stricthostkeychecking')?.toLowerCase() === 'yes';
  const password = typeof opts.passwd === 'string' ? opts.passwd : undefined;
  const identity = typeof opts.identity_file === 'string' && opts.identity_file !== '' ? opts.identity_file : undefined;
  let privateKey: Buffer | undefined;
  if (identity) {
    try {
      privateKey = readFileSync(identity);
    } catch {
      return Promise.reject(new FenceError(`Failed: cannot read identity file ${identity}`));
    }
  }

  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      client.destroy();
      reject(new Error(why));
    };
    client.on('error', (err) => fail(err.message));
    client.on('close', () => fail('connection closed'));
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
      finish(prompts.map(() => password ?? ''));
    });
    client.on('ready', () => {
      client.shell({ term: 'vt100', rows: 24, cols: 200 }, (err, channel) => {
        if (err) return fail(err.message);
        settled = true;
        resolve(new SshSession(client, channel));
      });
    });
    client.connect({
      host,
      port,
      username: String(opts.login ?? ''),
      ...(identity ? { privateKey, passphrase: password } : { password, tryKeyboard: true }),
      forceIPv4: opts.inet4_only === true,
      forceIPv6: opts.inet6_only === true,
      readyTimeout: timeoutMs > 0 ? timeoutMs : 2 ** 31 - 1,
      hostVerifier: (key: Buffer) => {
        const { keys, revoked } = knownKeys(knownFiles, host, port);
        const b64 = key.toString('base64');
        if (revoked.has(b64)) return false;
        return keys.size > 0 ? keys.has(b64) : !strict;
      },
    });
  });
}
