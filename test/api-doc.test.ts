import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERBS } from '../src/verbs/catalogue.js';
import { renderApiDoc } from '../src/verbs/docs.js';

describe('docs/api.md', () => {
  it('is what the verb catalogue generates (run `npm run docs` after changing a verb)', () => {
    expect(readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8')).toBe(renderApiDoc(VERBS));
  });

  it('documents every verb with its params', () => {
    const doc = renderApiDoc(VERBS);
    for (const verb of VERBS) expect(doc).toContain(`## ${verb.name}`);
    expect(doc).toMatch(/- mode \(string, required\)/);
  });

  it('has unique verb names in Namespace.verb form', () => {
    const names = VERBS.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[A-Z][A-Za-z]+\.[a-z][A-Za-z0-9]+$/);
  });
});
