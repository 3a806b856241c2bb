/**
 * More identities on a test PKI (test/support/pki.ts makes the CA, one vdsm and one engine certificate): a host
 * certificate per bed host and the coordinator's client certificate, each signed by the same CA with openssl, as
 * scripts/gen-pki.sh signs its own. No vitest here.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pki } from '../support/pki.js';

export interface Identity {
  key: string;
  cert: string;
}

/** Issues `name`-key.pem and `name`.pem in the PKI's directory: a host (server and client) or a client only. */
export function issue(pki: Pki, name: string, role: 'host' | 'client'): Identity {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`pki: bad identity name ${name}`);
  const key = pki.file(`${name}-key.pem`);
  const cert = pki.file(`${name}.pem`);
  const csr = pki.file(`${name}.csr`);
  const ext = pki.file(`${name}.ext`);
  const quiet = { stdio: ['ignore', 'ignore', 'pipe'] as ['ignore', 'ignore', 'pipe'] };
  execFileSync(
    'openssl',
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
      '-subj',
      `/O=vdsm-ts test/CN=${name}`,
      '-keyout',
      key,
      '-out',
      csr,
    ]),
    quiet,
  );
  writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${role === 'host' ? 'serverAuth,clientAuth' : 'clientAuth'}`,
      ...(role === 'host' ? ['subjectAltName=DNS:localhost,IP:127.0.0.1'] : []),
      '',
    ].join('\n'),
  );
  try {
    execFileSync(
      'openssl',
      ['x509', '-req', '-in', csr, '-CA', pki.file('ca.pem'), '-CAkey', pki.file('ca-key.pem')]
        .concat(['-CAcreateserial', '-CAserial', join(pki.dir, `${name}.srl`), '-days', '30'])
        .concat(['-extfile', ext, '-out', cert]),
      quiet,
    );
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
    rmSync(join(pki.dir, `${name}.srl`), { force: true });
  }
  chmodSync(key, 0o600);
  return { key, cert };
}

/** The PKI as a vdsmd start sees it (startVdsmdProcess reads vdsm.pem and vdsm-key.pem), with `host`'s identity. */
export function hostView(pki: Pki, host: Identity): Pki {
  return {
    dir: pki.dir,
    file: (n) => (n === 'vdsm.pem' ? host.cert : n === 'vdsm-key.pem' ? host.key : pki.file(n)),
    cleanup: () => undefined,
  };
}
