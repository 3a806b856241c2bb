import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './paths.js';

export interface Pki {
  dir: string;
  file(name: string): string;
  cleanup(): void;
}

/** A fresh test PKI (CA, vdsm host cert, engine client cert, and a stranger from another CA); no vitest here. */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'vdsm-pki-'));
  try {
    execFileSync('bash', [join(ROOT, 'scripts/gen-pki.sh'), dir]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, file: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
