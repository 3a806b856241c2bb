import { z } from 'zod';
import type { Route } from './route.js';
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from './server.js';

interface JsonSchemaObject {
  properties?: Record<string, { type?: string; description?: string; enum?: unknown[]; pattern?: string }>;
  required?: string[];
}

/** `name (type, required): description` per field of an object schema, as it is sent (io: input). */
function describeFields(schema: z.ZodType): string[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaObject;
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([key, prop]) => {
    const type = prop.enum ? prop.enum.map((e) => JSON.stringify(e)).join(' | ') : (prop.type ?? 'any');
    const req = required.has(key) ? 'required' : 'optional';
    return `- \`${key}\` (${type}, ${req})${prop.description ? `: ${prop.description}` : ''}`;
  });
}

const answerOf = (route: Route): string => {
  switch (route.produces) {
    case 'json':
      return `JSON, status ${route.status ?? 200}${route.statusOf ? ' (see above)' : ''}`;
    case 'ndjson':
      return 'newline-delimited JSON (`application/x-ndjson`), one document per line';
    case 'text':
      return 'text';
  }
};

/** docs/coordinator-api.md: every route with its inputs and its answer as JSON Schema, from the route catalogue. */
export function renderCoordinatorApiDoc(routes: readonly Route[]): string {
  const out = [
    '# The coordinator HTTP API',
    '',
    'Generated from the route catalogue (`src/coordinator/api/catalogue.ts`) by `npm run docs`; do not edit by hand.',
    `\`vdsm-ts-coordinator serve\` listens on ${DEFAULT_API_HOST}:${DEFAULT_API_PORT} unless configured`,
    '(docs/coordinator-cli.md); the `vdsm-ts-coordinator` client commands call these routes.',
    '',
    'Bodies are JSON. Every input is validated against the schema below; an unknown field or query parameter is',
    'refused. Errors answer `{"error": kind, "message": text}`: 400 `bad-request` (the message names each field',
    'and what it must be), 404 `not-found` (no such route, or no such host or VM), 405 `method-not-allowed`,',
    '413 `too-large` (bodies up to 1 MiB), 409 `refused` (the coordinator will not do it now), 503 `unavailable`',
    '(etcd does not answer), 500 `internal`. Changes answer 202: the command is queued for the leader, which',
    'carries it out or refuses it in the audit trail (`GET /events`). `by` names the person asking; it is recorded.',
    '',
  ];
  for (const route of routes) {
    out.push(`## ${route.method} ${route.path}`, '', route.summary, '');
    for (const [title, schema] of [
      ['Path', route.params],
      ['Query', route.query],
      ['Body', route.body],
    ] as const) {
      const fields = schema ? describeFields(schema) : [];
      if (fields.length) out.push(`### ${title}`, '', ...fields, '');
      if (schema && fields.some((f) => /\((array|object),/.test(f))) {
        // Nested fields (a host's fence agents) are only readable in the schema itself.
        const { $schema: _, ...whole } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
        out.push('```json', JSON.stringify(whole, null, 2), '```', '');
      }
    }
    const { $schema: _, ...answer } = z.toJSONSchema(route.response, { io: 'output', unrepresentable: 'any' });
    out.push(`### Answer: ${answerOf(route)}`, '', '```json', JSON.stringify(answer, null, 2), '```', '');
  }
  return out.join('\n');
}
