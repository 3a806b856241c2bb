import type { Logger } from 'pino';

export interface Closable {
  close(): Promise<void>;
}

export interface DaemonLife<S extends Closable> {
  /** The program name: log messages and stderr lines start with it. */
  name: string;
  log: Logger;
  /** Writes out what the log still holds; the process exits right after. */
  flushLog(): Promise<void>;
  start(): Promise<S>;
  /** Runs once the service is up, before waiting for a signal. */
  started?(service: S): void;
}

/**
 * The life of a daemon once its settings are read: start the service, run it until SIGTERM or SIGINT, then close it
 * and flush the log. Resolves to the exit code: 0 after an orderly stop, 1 when the service cannot start (the reason
 * logged and on stderr).
 */
export async function serveUntilSignalled<S extends Closable>(life: DaemonLife<S>): Promise<number> {
  const { name, log } = life;
  let service: S;
  try {
    service = await life.start();
  } catch (err) {
    log.fatal({ err }, `${name} failed to start`);
    await life.flushLog();
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  life.started?.(service);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info(`${name} stopping`);
  await service.close();
  await life.flushLog();
  return 0;
}

/** Runs a daemon's main and exits with its code; anything it did not expect exits 1 with the stack on stderr. */
export function exitWithCode(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
