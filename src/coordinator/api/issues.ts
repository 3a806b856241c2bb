import type { z } from 'zod';

/**
 * A zod error as one line for a person: each issue as `where.path: message`. Zod's messages name the expected
 * type or bound, never the value given, so nothing sent (a mistyped secret) is repeated back.
 */
export function describeIssues(error: z.ZodError, where: string): string {
  return error.issues
    .map((i) => {
      const path = i.path.map(String).join('.');
      return `${where}${path ? `.${path}` : ''}: ${i.message}`;
    })
    .join('; ');
}
