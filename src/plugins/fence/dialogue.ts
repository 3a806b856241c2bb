/**
 * The device dialogue of one agent run (what ClusterLabs' agents log with -v: connections, commands sent,
 * answers received, programs run), for the transports. Each run's log travels in an AsyncLocalStorage, so a
 * transport needs no logger argument and runs side by side in vdsmd never mix; a transport takes the log when
 * it is created (`dialogue()`) and writes to it later, from whatever callback. The log masks every secret value;
 * a transport also shows a secret it sends as `********` itself.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FenceLog } from './io.js';

export interface Dialogue {
  /** How the device is reached (a connection, a program started). */
  note(text: string): void;
  sent(text: string): void;
  received(text: string): void;
}

const current = new AsyncLocalStorage<FenceLog>();
const silent: Dialogue = { note: () => {}, sent: () => {}, received: () => {} };

/** Runs `fn` with `log` as the dialogue's destination. */
export function withDialogue<T>(log: FenceLog, fn: () => Promise<T>): Promise<T> {
  return current.run(log, fn);
}

/** The dialogue of the run this is called in (a no-op outside any run, e.g. in unit tests of a transport). */
export function dialogue(): Dialogue {
  const log = current.getStore();
  if (!log) return silent;
  return {
    note: (text) => log.info(text),
    sent: (text) => log.debug(`Sent: ${text}`),
    received: (text) => log.debug(`Received: ${text}`),
  };
}

/** What stands in the log for a secret a transport sends. */
export const HIDDEN = '********';
