import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../support/run-command.js';

export interface CachedCompile {
  source: string;
  /** e.g. /var/tmp/vdsm-ts-cutfs; created world-readable (daemons running as other users load from it). */
  cacheDir: string;
  /** Appended to the hash to name the output, e.g. '.so' or ''. */
  suffix: string;
  /** gcc arguments before `-o out source` ... */
  cflags: string[];
  /** ... and after it (libraries). */
  libs: string[];
}

/**
 * Compiles `source` with gcc once per content + flags: the output is <cacheDir>/<hash><suffix>.
 * It appears by rename, so test files building it in parallel never see a half-written file.
 */
export async function compileCached(c: CachedCompile): Promise<string> {
  const text = await readFile(c.source);
  const hash = createHash('sha256')
    .update(text)
    .update(JSON.stringify([c.cflags, c.libs]))
    .digest('hex')
    .slice(0, 16);
  const out = join(c.cacheDir, hash + c.suffix);
  if (
    await stat(out).then(
      () => true,
      () => false,
    )
  )
    return out;

  await mkdir(c.cacheDir, { recursive: true, mode: 0o755 });
  const tmp = `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const r = await runCommand('gcc', [...c.cflags, '-o', tmp, c.source, ...c.libs], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`gcc ${c.source} failed (${r.code}): ${r.stderr}`);
    await chmod(tmp, 0o755);
    await rename(tmp, out);
  } finally {
    await rm(tmp, { force: true });
  }
  return out;
}
