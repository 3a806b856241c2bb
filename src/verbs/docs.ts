import { z } from 'zod';
import type { Verb } from './define.js';

/** A JSON template of a verb's params, as `vdsm-client <ns> <verb> -h` prints it. */
export function paramsTemplate(verb: Verb): Record<string, string> {
  const schema = z.toJSONSchema(verb.params, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, { type?: string | string[]; enum?: unknown[] }>;
  };
  return Object.fromEntries(
    Object.entries(schema.properties ?? {}).map(([key, prop]) => [
      key,
      prop.enum ? prop.enum.join('|') : String(prop.type ?? 'any'),
    ]),
  );
}

/** The params section of a verb's help: each param with its type and whether it is required. */
export function describeParams(verb: Verb): string[] {
  const schema = z.toJSONSchema(verb.params, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, { type?: string; description?: string; enum?: unknown[] }>;
    required?: string[];
  };
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([key, prop]) => {
    const type = prop.enum ? prop.enum.map((e) => JSON.stringify(e)).join(' | ') : (prop.type ?? 'any');
    return `${key} (${type}${required.has(key) ? ', required' : ', optional'})${prop.description ? `: ${prop.description}` : ''}`;
  });
}

/** docs/api.md: every verb with its params and result as JSON Schema, generated from the catalogue. */
export function renderApiDoc(verbs: readonly Verb[]): string {
  const out = [
    '# vdsmd API',
    '',
    'Generated from the verb catalogue (`src/verbs/catalogue.ts`) by `npm run docs`; do not edit by hand.',
    'Requests are JSON-RPC 2.0 over STOMP 1.2 (SEND to `jms.topic.vdsm_requests` with a `reply-to`).',
    'Boolean and integer params also take the strings `vdsm-client NS verb name=value` sends: "true"/"false" (any case)',
    'or "1"/"0" for booleans (unlike vdsm, "false" is false), decimal integers such as "30" for integers.',
    'The same port answers HTTP `GET /metrics` (Prometheus) and `GET /health` under the same TLS rules (docs/metrics.md).',
    '',
  ];
  for (const verb of verbs) {
    out.push(`## ${verb.name}`, '', verb.description, '', '### Params', '');
    const params = describeParams(verb);
    out.push(...(params.length ? params.map((p) => `- ${p}`) : ['(none)']), '');
    const { $schema: _, ...result } = z.toJSONSchema(verb.result, { io: 'output', unrepresentable: 'any' });
    out.push('### Result', '', '```json', JSON.stringify(result, null, 2), '```', '');
  }
  return out.join('\n');
}
