import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hostRecord, type HostRecordInput } from '../src/coordinator/inventory/records.js';
import { SecretFiles } from '../src/coordinator/secrets.js';
import { SoftFence } from '../src/coordinator/ssh/restart.js';
import { captureLog } from './support/capture-log.js';
import { closedPort } from './support/ports.js';
import { type PrivateSshd, startPrivateSshd } from './support/sshd.js';
import { settledWithin, waitFor } from './support/wait.js';

let sshd: PrivateSshd;
let work: string;
let marker: string;
let keyText: string;
let cap: ReturnType<typeof captureLog>;
let soft: SoftFence;

/** A restart command the test provides: records its argv and environment in the marker file, then exits `code`. */
const script = (code: number, sleepSeconds = 0) => `${join(work, 'restart.sh')} ${code} ${sleepSeconds}`;

const host = (ssh: Partial<NonNullable<HostRecordInput['ssh']>> = {}, address = '127.0.0.1') =>
  hostRecord.parse({
    id: 'h1',
    address,
    ssh: { user: sshd.user, port: sshd.port, hostKeySha256: sshd.hostKeySha256, keyRef: 'coord-key', ...ssh },
  });

const count = (re: RegExp) => (sshd.log().match(re) ?? []).length;
const accepted = () => count(/Accepted publickey/g);

beforeAll(async () => {
  sshd = await startPrivateSshd();
  work = mkdtempSync(join(tmpdir(), 'coord-ssh-'));
  marker = join(work, 'ran');
  writeFileSync(
    join(work, 'restart.sh'),
    // With a sleep, the script becomes the sleep (exec), so that the test can end it by the pid it wrote.
    `#!/bin/sh\n{ echo "argv: $*"; echo "pid: $$"; env; } > ${marker}\n[ "$2" = 0 ] || exec sleep "$2"\necho "restart says bye"\nexit "$1"\n`,
  );
  chmodSync(join(work, 'restart.sh'), 0o755);
  const secretsDir = join(work, 'secrets');
  mkdirSync(secretsDir, { mode: 0o700 });
  copyFileSync(sshd.clientKey, join(secretsDir, 'coord-key'));
  chmodSync(join(secretsDir, 'coord-key'), 0o600);
  copyFileSync(sshd.clientKey, join(secretsDir, 'loose-key'));
  chmodSync(join(secretsDir, 'loose-key'), 0o644);
  keyText = readFileSync(sshd.clientKey, 'utf8');
  cap = captureLog('debug');
  soft = new SoftFence({ secrets: new SecretFiles(secretsDir), log: cap.log, connectTimeoutMs: 1500 });
});

afterAll(async () => {
  await sshd?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

beforeEach(() => rmSync(marker, { force: true }));

const run = (record = host(), signal = new AbortController().signal) => soft.restart(record, signal);

describe('soft fencing over SSH against a private sshd', () => {
  it('with the pinned host key: authenticates with the key file, runs the command, ok on exit 0', async () => {
    const logins = accepted();
    const r = await run(host({ command: script(0) }));
    expect(r).toEqual({ ok: true, detail: expect.stringContaining('exit 0: restart says bye') });
    expect(accepted()).toBe(logins + 1);
    expect(readFileSync(marker, 'utf8')).toContain('argv: 0 0');
  });

  it('a non-zero exit is ok false with the exit code in the detail', async () => {
    const r = await run(host({ command: script(3) }));
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/exit 3: restart says bye/);
    expect(existsSync(marker)).toBe(true);
  });

  it('another host key is refused before authenticating: the command does not run and sshd saw no login', async () => {
    const mark = sshd.log().length;
    const before = { accepted: accepted(), preauth: count(/Disconnected from 127\.0\.0\.1 port \d+ \[preauth\]/g) };
    const wrong = `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`;
    const r = await run(host({ command: script(0), hostKeySha256: wrong }));
    expect(r.ok).toBe(false);
    expect(r.detail).toContain(`its host key is ${sshd.hostKeySha256}, not the pinned ${wrong}`);
    expect(existsSync(marker)).toBe(false);
    // sshd logs the client's disconnect during the key exchange ([preauth]); no key was offered on it.
    await waitFor(
      'sshd to log the dropped connection',
      () => count(/Disconnected from 127\.0\.0\.1 port \d+ \[preauth\]/g) > before.preauth,
      5000,
    );
    expect(accepted()).toBe(before.accepted);
    expect(sshd.log().slice(mark)).not.toMatch(/publickey|Failed|Accepted/);
  });

  it('a closed port fails at once, a port that never speaks SSH fails within the connect bound', async () => {
    const refused = await run(host({ command: script(0), port: await closedPort() }));
    expect(refused.ok).toBe(false);
    expect(refused.detail).toMatch(/ECONNREFUSED/);
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const pending = run(host({ command: script(0), port }));
      // connectTimeoutMs is 1500: well past it, it must have ended.
      expect(await settledWithin(pending, 6000)).toBe(true);
      const r = await pending;
      expect(r.ok).toBe(false);
      expect(r.detail).toMatch(/within 1500 ms|Timed out while waiting for handshake/);
    } finally {
      silent.close();
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('the leader term ending aborts a running command at once', async () => {
    const term = new AbortController();
    const pending = run(host({ command: script(0, 30) }), term.signal);
    await waitFor('the command to start', () => existsSync(marker), 10_000, 50);
    try {
      term.abort(new Error('term over'));
      expect(await settledWithin(pending, 1000)).toBe(true);
      await expect(pending).rejects.toThrow('term over');
    } finally {
      const pid = Number(/^pid: (\d+)$/m.exec(readFileSync(marker, 'utf8'))?.[1]);
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });

  it('a key file readable by others is refused and no connection is made', async () => {
    const before = (sshd.log().match(/Connection from/g) ?? []).length;
    const r = await run(host({ command: script(0), keyRef: 'loose-key' }));
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/loose-key.*mode 0644/);
    expect((sshd.log().match(/Connection from/g) ?? []).length).toBe(before);
  });

  it('the private key is in no log line, no detail and not in what the remote command sees', async () => {
    const r = await run(host({ command: script(0) }));
    expect(r.ok).toBe(true);
    const body = keyText.split('\n').filter((l) => l && !l.startsWith('-----'));
    expect(body.length).toBeGreaterThan(0);
    const seen = [cap.text(), JSON.stringify(r), readFileSync(marker, 'utf8')].join('\n');
    for (const line of body) expect(seen).not.toContain(line);
    expect(cap.lines().some((l) => l.msg === 'soft fence: ssh restart')).toBe(true);
  });
});
