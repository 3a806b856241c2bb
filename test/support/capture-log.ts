import pino, { type Logger } from 'pino';

/** A real pino logger whose JSON lines are kept in memory for assertions. */
export function captureLog(level = 'info'): {
  log: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  const log = pino(
    { level, redact: { paths: ['password', '*.password'], censor: '********' } },
    { write: (s: string) => void chunks.push(s) },
  );
  return {
    log,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}
