import { z } from 'zod';
import type { BrokerMethod } from './define.js';
import { BROKER_ERRORS } from './errors.js';

export const DOC_BEGIN =
  '<!-- broker methods: generated from src/hosted-engine/broker/catalogue.ts by `npm run docs` -->';
export const DOC_END = '<!-- end of broker methods -->';

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
}

/** A one-line type of a JSON Schema: enums and literals spelled out, objects by their keys only. */
function typeText(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  if (s.anyOf) return s.anyOf.map(typeText).join(' | ');
  if (s.type === 'array') return `${s.items ? typeText(s.items) : 'unknown'}[]`;
  if (s.type === 'object' && s.properties) {
    const required = new Set(s.required ?? []);
    return `{ ${Object.keys(s.properties)
      .map((k) => (required.has(k) ? k : `${k}?`))
      .join(', ')} }`;
  }
  if (s.type === 'object' && typeof s.additionalProperties === 'object')
    return `{ [key]: ${typeText(s.additionalProperties)} }`;
  return Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'unknown');
}

function paramsText(method: BrokerMethod): string {
  const schema = z.toJSONSchema(method.params, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties ?? {}).map(
    ([k, p]) => `${k}${required.has(k) ? '' : '?'}: ${typeText(p)}`,
  );
  return fields.length ? `{ ${fields.join(', ')} }` : '{}';
}

/** The broker section of docs/hosted-engine.md: every method and every error code, from the catalogue. */
export function renderBrokerDoc(methods: Readonly<Record<string, BrokerMethod>>): string {
  const out = [
    DOC_BEGIN,
    'JSON-RPC 2.0 with named params, one message per line, on `broker_socket` (AF_UNIX, mode 0660).',
    '',
  ];
  for (const [name, method] of Object.entries(methods)) {
    const result = typeText(z.toJSONSchema(method.result, { io: 'output', unrepresentable: 'any' }) as JsonSchema);
    const refuses = (method.refuses ?? []).map((r) => `\`${r}\` (${BROKER_ERRORS[r].code})`);
    out.push(
      `- \`${name}\` \`${paramsText(method)}\` → \`${result}\`: ${method.description}${refuses.length ? ` Refuses: ${refuses.join(', ')}.` : ''}`,
    );
  }
  out.push('', 'Error codes (`BROKER_ERRORS` in `src/hosted-engine/broker/errors.ts`):', '');
  for (const [name, { code, meaning }] of Object.entries(BROKER_ERRORS)) out.push(`- ${code} \`${name}\`: ${meaning}`);
  out.push(DOC_END);
  return out.join('\n');
}

/** `doc` with its broker section replaced by `section`; throws when the markers are missing. */
export function spliceBrokerDoc(doc: string, section: string): string {
  const begin = doc.indexOf(DOC_BEGIN);
  const end = doc.indexOf(DOC_END);
  if (begin < 0 || end < begin)
    throw new Error('docs/hosted-engine.md has no broker methods section (its markers are missing)');
  return doc.slice(0, begin) + section + doc.slice(end + DOC_END.length);
}
