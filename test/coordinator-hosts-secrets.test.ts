import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { inspect } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_REDACT, Secret, SecretError, SecretFiles } from '../src/coordinator/secrets.js';

const CONTENT = 'bmc-Pa55-7f3c';
let dir: string;
let secrets: SecretFiles;

const put = (name: string, text: string, mode: number) => {
  writeFileSync(join(dir, name), text);
  chmodSync(join(dir, name), mode);
};

/** The error `p` rejects with (fails the test when it resolves). */
async function refusal(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err, 'expected a refusal').toBeInstanceOf(SecretError);
  expect(err!.message).not.toContain(CONTENT);
  return err!;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-secrets-'));
  secrets = new SecretFiles(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SecretFiles', () => {
  it('reads a 0600 file of its own user, without the final line break', async () => {
    put('bmc1', `${CONTENT}\n`, 0o600);
    const s = await secrets.read('bmc1');
    expect(s.text()).toBe(CONTENT);
    expect(s.bytes().toString()).toBe(`${CONTENT}\n`);
    put('ro', CONTENT, 0o400);
    expect((await secrets.read('ro')).text()).toBe(CONTENT);
  });

  it.each(['0644', '0640', '0604', '0660', '0606'])(
    'refuses mode %s and says which mode, not the content',
    async (text) => {
      const mode = parseInt(text, 8);
      put('loose', CONTENT, mode);
      const err = await refusal(secrets.read('loose'));
      expect(err.message).toMatch(/group or others \(mode 0\d{3}\); chmod 600/);
      expect(err.message).toContain(`0${mode.toString(8)}`);
    },
  );

  it("refuses a file owned by another user than the process's", async () => {
    // As root the file is given away; otherwise a system file stands in (owned by root, not by us).
    const [where, name] = process.getuid?.() === 0 ? [secrets, 'theirs'] : [new SecretFiles('/etc'), 'hostname'];
    if (name === 'theirs') {
      put('theirs', CONTENT, 0o600);
      chownSync(join(dir, 'theirs'), 65534, 65534);
    }
    const err = await refusal(where.read(name));
    expect(err.message).toMatch(/owned by uid \d+, not by this process's user/);
  });

  it('refuses names that are not inventory names, before touching the file system', async () => {
    for (const name of ['../etc/passwd', '.hidden', 'a/b', '', 'x'.repeat(64)])
      expect((await refusal(secrets.read(name))).message).toMatch(/not a valid secret name/);
  });

  it('refuses a symbolic link, a directory, an empty and a missing file', async () => {
    put('target', CONTENT, 0o600);
    symlinkSync(join(dir, 'target'), join(dir, 'link'));
    expect((await refusal(secrets.read('link'))).message).toMatch(/symbolic link/);
    expect((await refusal(new SecretFiles(tmpdir()).read(basename(dir)))).message).toMatch(/not a regular file/);
    put('empty', '', 0o600);
    expect((await refusal(secrets.read('empty'))).message).toMatch(/is empty/);
    expect((await refusal(secrets.read('absent'))).message).toMatch(/does not exist/);
  });
});

describe('Secret', () => {
  const logged = (opts: pino.LoggerOptions, fields: Record<string, unknown>) => {
    const lines: string[] = [];
    pino(opts, { write: (l: string) => void lines.push(l) }).info(fields, 'line');
    return lines.join('');
  };

  it('prints as a mask in strings, JSON, util.inspect and pino lines, even without redaction', () => {
    const s = new Secret(Buffer.from(CONTENT));
    expect(String(s)).toBe('********');
    expect(JSON.stringify({ s })).toBe('{"s":"********"}');
    expect(inspect({ s }, { showHidden: true, depth: 5 })).not.toContain(CONTENT);
    const line = logged({}, { secret: s, nested: { s } });
    expect(line).toContain('"secret":"********"');
    expect(line).not.toContain(CONTENT);
  });

  it('SECRET_REDACT masks plain strings under the secret keys, at the top and one level down', () => {
    const fields = { password: CONTENT, agent: { passwd: CONTENT, password: CONTENT }, key: { privateKey: CONTENT } };
    expect(logged({}, fields)).toContain(CONTENT);
    const line = logged({ redact: SECRET_REDACT }, fields);
    expect(line).not.toContain(CONTENT);
    expect(line).toContain('"password":"********"');
  });
});
