import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { VdsmdConfig } from '../../config.js';
import { readAccounts, requireUser } from '../accounts.js';
import { rooted, runChecked, ToolError, type ToolContext } from '../context.js';
import { loadVdsmConf } from '../vdsm-conf.js';
import { VDSM_USER } from './libvirt.js';
import { DISK_GROUP } from './sanlock.js';
import type { ToolModule } from './module.js';

const execFileP = promisify(execFile);

/** Five years, as the engine's host certificates; the engine replaces these when it enrolls the host. */
const DAYS = '1825';

interface TlsPaths {
  key: string;
  cert: string;
  ca: string;
}

/** The TLS files vdsmd serves with, or null when vdsm.conf turns TLS off (then nothing is needed, as upstream). */
function tlsPaths(ctx: ToolContext): TlsPaths | null {
  let config: VdsmdConfig;
  try {
    config = loadVdsmConf(ctx);
  } catch {
    // validate-config reports the file; the unit's production default is TLS on vdsm's paths.
    return {
      key: '/etc/pki/vdsm/keys/vdsmkey.pem',
      cert: '/etc/pki/vdsm/certs/vdsmcert.pem',
      ca: '/etc/pki/vdsm/certs/cacert.pem',
    };
  }
  return config.ssl ? { key: config.sslKey, cert: config.sslCert, ca: config.sslCa } : null;
}

/** What is there and what is missing; a state we cannot complete without another party's key is a ToolError. */
function plan(ctx: ToolContext, paths: TlsPaths): { makeKey: boolean; makePair: boolean } {
  const has = (p: string) => existsSync(rooted(ctx, p));
  const [key, cert, ca] = [has(paths.key), has(paths.cert), has(paths.ca)];
  if (!key && cert)
    throw new ToolError(
      `${paths.cert} exists without its key ${paths.key}: restore the key, or remove the certificate`,
    );
  if (!cert && ca)
    throw new ToolError(
      `${paths.cert} is missing but ${paths.ca} exists, and its CA key is not here to sign with: have the engine ` +
        `enroll the host, or remove ${paths.ca} to make a new self-signed pair`,
    );
  if (cert && !ca) throw new ToolError(`${paths.ca} is missing: put the CA that signed ${paths.cert} there`);
  return { makeKey: !key, makePair: !cert };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args, { timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ToolError(`openssl ${args[0]} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/**
 * A self-signed CA and a host certificate it signs (server and client use: vdsm-client on the host presents the same
 * pair, as upstream's does). The CA's key is thrown away once it has signed: nothing can be signed with it again,
 * and the engine replaces both when it enrolls the host.
 */
async function generate(dir: string, key: string | null): Promise<{ key: string; cert: string; ca: string }> {
  const f = (name: string) => join(dir, name);
  const host = hostname();
  // X.509 limits a common name to 64 characters; the full name is in subjectAltName.
  const cn = host.slice(0, 64);
  if (key === null) {
    key = f('key.pem');
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  }
  await openssl([
    'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('ca-key.pem'), '-out', f('ca.pem'), '-days', DAYS,
    '-subj', '/O=vdsm-ts/CN=VDSM Certificate Authority',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]); // prettier-ignore
  await openssl(['req', '-new', '-key', key, '-subj', `/O=VDSM Certificate/CN=${cn}`, '-out', f('host.csr')]);
  writeFileSync(
    f('host.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=DNS:${host},DNS:localhost,IP:127.0.0.1,IP:::1`,
    ].join('\n') + '\n',
  );
  await openssl([
    'x509', '-req', '-in', f('host.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'),
    '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', DAYS, '-extfile', f('host.ext'), '-out', f('cert.pem'),
  ]); // prettier-ignore
  rmSync(f('ca-key.pem'));
  return { key, cert: f('cert.pem'), ca: f('ca.pem') };
}

export const certificatesModule: ToolModule = {
  name: 'certificates',
  services: ['vdsmd'],
  check: async (ctx) => {
    const paths = tlsPaths(ctx);
    if (!paths) return [];
    return Object.values(paths)
      .filter((p) => !existsSync(rooted(ctx, p)))
      .map((p) => `${p}: missing (vdsm.conf has ssl = true)`);
  },
  configure: async (ctx) => {
    const paths = tlsPaths(ctx);
    if (!paths) return [];
    const { makeKey, makePair } = plan(ctx, paths);
    if (!makeKey && !makePair) return [];
    const accounts = readAccounts(ctx);
    const { uid, gid: vdsmGid } = requireUser(accounts, VDSM_USER, 'the vdsm-ts package');
    const gid = accounts.group(DISK_GROUP)?.gid ?? vdsmGid;
    const dirs = { key: dirname(rooted(ctx, paths.key)), cert: dirname(rooted(ctx, paths.cert)) };
    mkdirSync(dirs.key, { recursive: true, mode: 0o750 });
    mkdirSync(dirs.cert, { recursive: true, mode: 0o755 });
    const tmp = mkdtempSync(join(dirs.key, '.vdsm-tool-'));
    try {
      const made = await generate(tmp, makeKey ? null : rooted(ctx, paths.key));
      const done: string[] = [];
      const place = async (from: string, to: string, mode: number) => {
        chmodSync(from, mode);
        await runChecked(ctx, 'chown', [`${uid}:${gid}`, from]);
        linkSync(from, rooted(ctx, to)); // fails rather than replace a file that appeared meanwhile
        done.push(`${to}: created (mode 0${mode.toString(8)}, owner ${VDSM_USER}:${accounts.groupName(gid) ?? gid})`);
      };
      if (makeKey) await place(made.key, paths.key, 0o400);
      await place(made.ca, paths.ca, 0o440);
      await place(made.cert, paths.cert, 0o440);
      return [...done, `self-signed: ${paths.cert} by the new CA in ${paths.ca}, until the engine enrolls the host`];
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
  // Never removed: the engine's certificates live in the same files, and a host without them cannot be managed.
  remove: async () => [],
};
