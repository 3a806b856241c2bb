/**
 * One list of commands (issue 15, "Packages"): every command tsup builds under dist/cli/ (the doc generators are build
 * tools, not commands) is in package.json's `bin`, so `npm link` and `npx` offer what the RPM installs in /usr/bin,
 * and the RPM's wrappers are the same list.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (f: string) => readFileSync(new URL(`../${f}`, import.meta.url), 'utf8');
const bin = (JSON.parse(read('package.json')) as { bin: Record<string, string> }).bin;
const sorted = (xs: Iterable<string>) => [...xs].sort();

/** The commands tsup builds: its `cli/NAME` entries, less the doc generators. */
const built = sorted(
  [...read('tsup.config.ts').matchAll(/'cli\/([a-z-]+)': 'src\/cli\//g)]
    .map((m) => m[1]!)
    .filter((n) => !/^gen-/.test(n)),
);
const spec = read('rpm/vdsm-ts.spec');

describe('the commands', () => {
  it('are in package.json `bin`, each pointing at its own bundle', () => {
    const cli = Object.entries(bin).filter(([, target]) => target.startsWith('dist/cli/'));
    expect(sorted(cli.map(([name]) => name))).toEqual(built);
    for (const [name, target] of cli) expect(target, name).toBe(`dist/cli/${name}.js`);
  });

  it('are the RPM wrappers in /usr/bin, made and packaged', () => {
    const made = /for cmd in ([a-z -]+); do/.exec(spec)?.[1]?.trim().split(/\s+/) ?? [];
    const packaged = [...spec.matchAll(/^%\{_bindir\}\/([a-z-]+)$/gm)].map((m) => m[1]!);
    expect(sorted(made)).toEqual(built);
    expect(sorted(packaged)).toEqual(built);
  });
});
