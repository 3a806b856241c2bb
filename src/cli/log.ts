import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Structured JSON lines on stdout (journald keeps them under systemd). Writes are asynchronous (batched per tick) so
 * that one line per request stays cheap; `finish()` before exit. No pino `redact` here: it costs on every call,
 * and the only place params are logged (the RPC layer, at debug level) masks secrets itself.
 */
export function createLogger(level: string, fd = 1): Logger & { finish(): Promise<void> } {
  // Lines gather up to 4 KiB before a write (one write per ~25 request lines under load instead of one each);
  // the periodic flush bounds how long a line waits when traffic is light.
  const dest = pino.destination({
    dest: fd,
    sync: false,
    minLength: 4096,
    periodicFlush: 200,
    // When nobody drains stdout (journald stalled), hold at most 16 MiB of lines and stop retrying a full pipe after
    // 2 s: sonic-boom would otherwise retry forever, and pino's exit-time flush would then never let vdsmd exit.
    maxLength: 16 * 1024 * 1024,
    retryEAGAIN: eagainBudget(2000),
  });
  // A log that cannot be written must not take the service down. sonic-boom's flushSync retries any write error
  // forever (EPIPE included) and pino calls it at exit: once a write failed for good, it must do nothing.
  let broken = false;
  dest.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EAGAIN' && err.code !== 'EBUSY') broken = true;
  });
  const flushSync = dest.flushSync.bind(dest);
  dest.flushSync = () => {
    if (!broken) flushSync();
  };
  const log = pino(
    {
      level,
      base: { name: 'vdsmd' },
    },
    dest,
  ) as Logger & { finish(): Promise<void> };
  // Before exit: an asynchronous flush, bounded in time, then the stream is closed, so that pino's exit-time
  // flushSync (which can block for good when stdout is stuck) has nothing left to do.
  log.finish = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      dest.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    }).then(() => dest.destroy());
  return log;
}

/** Allows retrying a full pipe for `ms` of continuous EAGAIN; a pause of a second starts a new budget. */
function eagainBudget(ms: number): () => boolean {
  let since = 0;
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last > 1000) since = now;
    last = now;
    return now - since < ms;
  };
}
