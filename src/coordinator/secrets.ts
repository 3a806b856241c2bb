/**
 * The coordinator's secrets: BMC passwords and SSH private keys, one file each in a directory of the coordinator's
 * machine, named by inventory records (`passwordRef`, `keyRef`) and never stored anywhere else. A file is read only
 * when it is a regular file owned by this process's user and unreadable by group and others (mode 0600 or 0400),
 * as OpenSSH treats private keys. What a file holds never reaches an error, a log line or JSON: it travels wrapped
 * in a Secret, which prints as a mask.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { NAME } from './inventory/records.js';

export const MASK = '********';

/** pino `redact` for the coordinator's logger: the keys under which a secret could be handed to a log call. */
export const SECRET_REDACT = {
  paths: ['password', 'passwd', 'privateKey', 'passphrase', '*.password', '*.passwd', '*.privateKey', '*.passphrase'],
  censor: MASK,
};

/** Files larger than this are not secrets we know (a password, an OpenSSH private key). */
const MAX_BYTES = 64 * 1024;

/** A secret's bytes; printing it (String, JSON, util.inspect, a log) shows the mask. */
export class Secret {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** The content as text without its final line break (how a password file is written). */
  text(): string {
    return this.#bytes.toString('utf8').replace(/\r?\n$/, '');
  }

  /** The content as it is in the file (a private key). */
  bytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return `Secret(${MASK})`;
  }
}

/** Why a secret could not be read; names the secret and the file, never their content. */
export class SecretError extends Error {
  constructor(
    readonly secret: string,
    reason: string,
  ) {
    super(`secret ${JSON.stringify(secret.slice(0, 64))}: ${reason}`);
    this.name = 'SecretError';
  }
}

export class SecretFiles {
  constructor(readonly dir: string) {}

  async read(name: string): Promise<Secret> {
    if (!NAME.test(name))
      throw new SecretError(name, 'not a valid secret name (letters, digits, ".", "_" and "-", at most 63)');
    const path = join(this.dir, name);
    let handle;
    try {
      // O_NOFOLLOW: a symlink could point anywhere; the checks below are made on what was opened.
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new SecretError(name, `${path} does not exist`);
      if (code === 'ELOOP') throw new SecretError(name, `${path} is a symbolic link; refused`);
      throw new SecretError(name, `${path} cannot be opened (${code ?? 'error'})`);
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new SecretError(name, `${path} is not a regular file`);
      const uid = process.getuid?.();
      if (uid !== undefined && st.uid !== uid)
        throw new SecretError(name, `${path} is owned by uid ${st.uid}, not by this process's user (uid ${uid})`);
      if ((st.mode & 0o077) !== 0)
        throw new SecretError(
          name,
          `${path} is readable or writable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`,
        );
      if (st.size > MAX_BYTES) throw new SecretError(name, `${path} is larger than ${MAX_BYTES} bytes`);
      const bytes = await handle.readFile();
      if (bytes.length === 0) throw new SecretError(name, `${path} is empty`);
      return new Secret(bytes);
    } finally {
      await handle.close();
    }
  }
}
