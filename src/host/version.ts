import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SoftwareVersion {
  /** e.g. "0.1.0" */
  version: string;
  /** The pre-release tag when there is one ("0.2.0-rc.1" -> "rc.1"), else "1", like a first rpm release. */
  revision: string;
}

let cached: Promise<SoftwareVersion> | undefined;

/**
 * Our version from package.json, found by walking up from this module: the same code runs from src/ (tests),
 * from the bundled dist/ and from the rpm's install tree.
 */
export function softwareVersion(): Promise<SoftwareVersion> {
  cached ??= findPackageVersion(dirname(fileURLToPath(import.meta.url))).then(splitVersion);
  return cached;
}

async function findPackageVersion(dir: string): Promise<string> {
  for (let current = dir; ; current = dirname(current)) {
    try {
      const pkg = JSON.parse(await readFile(join(current, 'package.json'), 'utf8')) as { version?: unknown };
      if (typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no (readable) package.json here; keep walking up
    }
    if (dirname(current) === current) return '0.0.0';
  }
}

export function splitVersion(full: string): SoftwareVersion {
  const dash = full.indexOf('-');
  return dash < 0 ? { version: full, revision: '1' } : { version: full.slice(0, dash), revision: full.slice(dash + 1) };
}
