import type { z } from 'zod';

/** A failed parse in one line: each field by its path (`root` for the value itself) with what is wrong with it. */
export function describeIssues(error: z.ZodError, root: string): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : root}: ${issue.message}`)
    .join('; ');
}
