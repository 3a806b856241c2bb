/** vitest hooks around a vdsmd process (test/support/vdsmd-start.ts starts it), and what tests import with them. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { makePki, type Pki } from './pki.js';
import { startVdsmdProcess, type VdsmdProcess, type VdsmdStartOptions } from './vdsmd-start.js';

export { ROOT, VDSMD, VDSM_CLIENT } from './paths.js';
export { makePki, type Pki } from './pki.js';
export { startVdsmdProcess, type VdsmdProcess, type VdsmdStartOptions } from './vdsmd-start.js';

/** Registers hooks that start vdsmd before the tests of the file (or describe block) and stop it after. */
export function useVdsmd(options: VdsmdStartOptions = {}): { vdsmd: VdsmdProcess } {
  const ctx = {} as { vdsmd: VdsmdProcess };
  beforeAll(async () => {
    ctx.vdsmd = await startVdsmdProcess(options);
  });
  afterAll(async () => {
    await ctx.vdsmd?.stop();
  });
  return ctx;
}

export interface TlsVdsmd {
  pki: Pki;
  vdsmd: VdsmdProcess;
  /** Key, certificate and our CA for one of the PKI's identities (`engine`, `vdsm`, `stranger`). */
  tls(name: string): { key: Buffer; cert: Buffer; ca: Buffer };
}

/** Registers hooks that start vdsmd with mutual TLS on a fresh PKI before the file's tests and stop it after. */
export function useTlsVdsmd(): TlsVdsmd {
  const ctx = {
    tls: (name: string) => ({
      key: readFileSync(ctx.pki.file(`${name}-key.pem`)),
      cert: readFileSync(ctx.pki.file(`${name}.pem`)),
      ca: readFileSync(ctx.pki.file('ca.pem')),
    }),
  } as TlsVdsmd;
  beforeAll(async () => {
    ctx.pki = makePki();
    ctx.vdsmd = await startVdsmdProcess({ pki: ctx.pki });
  });
  afterAll(async () => {
    await ctx.vdsmd?.stop();
    ctx.pki?.cleanup();
  });
  return ctx;
}
