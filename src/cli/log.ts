import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Structured JSON lines on stdout (journald keeps them under systemd). Writes are asynchronous (batched per tick) so
 * that one line per request stays cheap; `flushAll()` before exit. No pino `redact` here: it costs on every call,
 * and the only place params are logged (the RPC layer, at debug level) masks secrets itself.
 */
export function createLogger(level: string, fd = 1): Logger & { flushAll(): void } {
  // Lines gather up to 4 KiB before a write (one write per ~25 request lines under load instead of one each);
  // the periodic flush bounds how long a line waits when traffic is light.
  const dest = pino.destination({ dest: fd, sync: false, minLength: 4096, periodicFlush: 200 });
  const log = pino(
    {
      level,
      base: { name: 'vdsmd' },
    },
    dest,
  ) as Logger & { flushAll(): void };
  log.flushAll = () => dest.flushSync();
  return log;
}
