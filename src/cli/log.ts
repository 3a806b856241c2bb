import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Structured JSON lines on stdout (journald keeps them under systemd). Writes are asynchronous (batched per tick) so
 * that one line per request stays cheap; `flush()` before exit. Secret-named fields are masked as a second line of
 * defence: the RPC layer already masks params before logging them.
 */
export function createLogger(level: string, fd = 1): Logger & { flushAll(): void } {
  const dest = pino.destination({ dest: fd, sync: false });
  const log = pino(
    {
      level,
      base: { name: 'vdsmd' },
      redact: { paths: ['password', 'passwd', '*.password', '*.passwd', 'params.*.password'], censor: '********' },
    },
    dest,
  ) as Logger & { flushAll(): void };
  log.flushAll = () => dest.flushSync();
  return log;
}
