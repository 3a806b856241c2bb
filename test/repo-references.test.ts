/**
 * Everything a reader needs is in the repository. No tracked file (git ls-files) may point outside it:
 * - no path into the team's notes folder beside a checkout, no path of the machine it was written on (the
 *   workspace root, home directories, this checkout's own absolute path), no citation of the old spec documents
 *   (a section number or sign after the word spec, a path into their folder);
 * - no repository path that does not exist: a `docs/…` path, a file path under one of the repository's top-level
 *   folders (`src/…/x.ts`, `test/…/y.md`, …) or a `…/README` that no tracked file matches.
 * The facts the code relies on belong in docs/, in our own words; a comment points there (docs/protocol.md,
 * docs/hosted-engine.md, docs/fence.md, docs/virt.md). The patterns below are assembled from pieces so that this
 * file does not match them itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/paths.js';

const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 })
  .split('\0')
  .filter((f) => f !== '' && !f.startsWith('node_modules/') && existsSync(join(ROOT, f)));
const tracked = new Set(files);
const folders = new Set(
  files.flatMap((f) =>
    f
      .split('/')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
  ),
);
const topFolders = [...new Set(files.filter((f) => f.includes('/')).map((f) => f.slice(0, f.indexOf('/'))))];

/** Every tracked text file, line by line (files holding a NUL byte are binary and skipped). */
const texts = files.flatMap((file) => {
  const data = readFileSync(join(ROOT, file));
  return data.subarray(0, 8192).includes(0) ? [] : [{ file, lines: data.toString('utf8').split('\n') }];
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const root = ROOT.replace(/\/+$/, '');
const home = homedir().replace(/\/+$/, '');

/** What a file may not mention at all: a rule's name and its pattern. */
const FORBIDDEN: [string, RegExp][] = [
  ['the notes folder beside the checkout', new RegExp(escape(['..', 'shared'].join('/')))],
  ['an absolute path of this machine', new RegExp(escape(['', 'work', ''].join('/')))],
  ['an absolute path of this machine', new RegExp(`(^|[^\\w.-])${escape(['', 'home', ''].join('/'))}[\\w.-]`)],
  ['an absolute path of this machine', new RegExp(escape(root))],
  ...(home.startsWith(['', 'home', ''].join('/'))
    ? [['an absolute path of this machine', new RegExp(escape(home))] as [string, RegExp]]
    : []),
  ['the old spec documents', new RegExp(`\\bspecs?(\\s*${'\u00a7'}|\\s+\\d+\\.\\d+|/[\\w-]+\\.md)`, 'i')],
  ['a section number of the old spec documents', new RegExp(`${'\u00a7'}\\s*\\d`)],
];

/** Repository paths a line mentions that must exist: docs/ paths, file paths under the top-level folders. */
const DOCS_PATH = /(?<![\w./<>{}*-])docs\/[\w./-]*[\w-]/g;
const FILE_PATH = new RegExp(
  `(?<![\\w./<>{}*-])(?:${topFolders.map(escape).join('|')})/[\\w./-]*\\.(?:ts|mjs|js|md|sh|json|c|cc|conf|spec|xml|txt|template|gyp)(?![\\w*<>{}/-])`,
  'g',
);
/** A README named with the folder it is in (with or without .md): some tracked file must end that way. */
const README = new RegExp(`(?<![\\w./-])(?:[\\w.-]+/)+README(?:\\.md)?\\b`, 'g');

function missingPaths(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(DOCS_PATH))
    if (!tracked.has(m[0]) && !folders.has(m[0].replace(/\/$/, ''))) out.push(m[0]);
  for (const m of line.matchAll(FILE_PATH)) if (!tracked.has(m[0])) out.push(m[0]);
  for (const m of line.matchAll(README)) {
    const tail = m[0].endsWith('.md') ? [m[0]] : [m[0], `${m[0]}.md`];
    if (!files.some((f) => tail.some((t) => f === t || f.endsWith(`/${t}`)))) out.push(m[0]);
  }
  return [...new Set(out)];
}

describe('references in tracked files stay inside the repository', () => {
  it('reads the tracked files', () => {
    expect(texts.length).toBeGreaterThan(100);
    expect(tracked.has('package.json') && tracked.has('README.md')).toBe(true);
  });

  it('no file points outside the repository or at the old spec documents', () => {
    const found: string[] = [];
    for (const { file, lines } of texts) {
      lines.forEach((line, i) => {
        for (const [rule, pattern] of FORBIDDEN)
          if (pattern.test(line)) found.push(`${file}:${i + 1}: ${rule}: ${line.trim().slice(0, 160)}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('every docs/ path, repository file path and README a file names exists', () => {
    const found: string[] = [];
    // package-lock.json names paths inside the dependencies, not ours.
    for (const { file, lines } of texts.filter((t) => t.file !== 'package-lock.json')) {
      lines.forEach((line, i) => {
        for (const path of missingPaths(line)) found.push(`${file}:${i + 1}: ${path} does not exist`);
      });
    }
    expect(found).toEqual([]);
  });
});
