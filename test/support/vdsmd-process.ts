import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';

import { ROOT, VDSMD } from './paths.js';

export { ROOT, VDSMD, VDSM_CLIENT } from './paths.js';

export interface Pki {
  dir: string;
  file(name: string): string;
  cleanup(): void;
}

/** A fresh test PKI (CA, vdsm host cert, engine client cert, and a stranger from another CA). */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'vdsm-pki-'));
  execFileSync('bash', [join(ROOT, 'scripts/gen-pki.sh'), dir]);
  return { dir, file: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface VdsmdProcess {
  port: number;
  pid: number;
  child: ChildProcess;
  /** Every log line vdsmd printed so far (stdout and stderr). */
  output(): string;
  /** Waits (bounded) until the log matches `re`: log lines are flushed in batches, at least every 200 ms. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
  alive(): boolean;
  stop(): Promise<number | null>;
}

/** Starts the built vdsmd as a real process on a free port and waits for its "ready" line. */
export async function startVdsmdProcess(
  options: { pki?: Pki; args?: string[]; env?: NodeJS.ProcessEnv; readyLine?: 'vdsmd ready' | 'vdsmd listening; recovering' } = {},
): Promise<VdsmdProcess> {
  const tlsArgs = options.pki
    ? ['--ssl', 'true', '--ssl-key', options.pki.file('vdsm-key.pem'), '--ssl-cert', options.pki.file('vdsm.pem'), '--ssl-ca', options.pki.file('ca.pem')]
    : ['--ssl', 'false'];
  const child = spawn(process.execPath, [VDSMD, '--bind', '127.0.0.1', '--port', '0', ...tlsArgs, ...(options.args ?? [])], {
    // libvirt's in-process test driver unless the test names another hypervisor.
    env: { PATH: process.env.PATH, VDSM_CONFIG: '/dev/null', VDSM_LIBVIRT_URI: 'test:///default', VDSM_HE_CONF: '/nonexistent/hosted-engine.conf', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = false;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => ((exited = true), resolve(code))));
  const port = await new Promise<number>((resolve, reject) => {
    // A start that fails must not leave its process behind.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vdsmd did not become ready:\n${out}`));
    }, 15_000);
    const check = () => {
      const m = new RegExp(`"port":(\\d+)[^\\n]*"msg":"${options.readyLine ?? 'vdsmd ready'}"`).exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exit.then(() => reject(new Error(`vdsmd exited early:\n${out}`)));
  });
  return {
    port,
    pid: child.pid!,
    child,
    output: () => out,
    waitForOutput: async (re, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return out;
    },
    alive: () => !exited,
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
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
