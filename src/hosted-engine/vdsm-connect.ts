import { readFileSync } from 'node:fs';
import { VdsmClient } from '../rpc/client.js';
import type { HeConf } from './conf.js';
import type { VdsmCall } from './monitors/types.js';

/**
 * A lazily (re)connecting vdsmd client for the HA daemons: vdsmd may restart under them; each call
 * reconnects if the last connection broke, and fails fast (bounded) while vdsmd is away.
 */
export function vdsmCaller(conf: HeConf): { call: VdsmCall; close(): Promise<void> } {
  let client: Promise<VdsmClient> | undefined;
  const connect = (): Promise<VdsmClient> => {
    const made = VdsmClient.connect({
      host: conf.vdsm.host,
      port: conf.vdsm.port,
      tls: conf.vdsm.ssl
        ? { key: readFileSync(conf.vdsm.key), cert: readFileSync(conf.vdsm.cert), ca: readFileSync(conf.vdsm.ca) }
        : undefined,
      connectTimeoutMs: 5000,
      // A connection that broke between two calls (vdsmd restarted) is dropped at once, so that the next call (say,
      // the agent's stop of the engine VM) connects afresh instead of failing on the dead one.
      onClose: () => {
        if (client === made) client = undefined;
      },
    });
    return made;
  };
  const call: VdsmCall = async (method, params = {}, options = {}) => {
    client ??= connect();
    let c: VdsmClient;
    try {
      c = await client;
    } catch (err) {
      client = undefined;
      throw err;
    }
    try {
      return await c.call(method, params, { timeoutMs: options.timeoutMs ?? 30_000 });
    } catch (err) {
      // A protocol answer (RemoteError has a code) keeps the connection; anything else drops it.
      if (typeof (err as { code?: unknown }).code !== 'number') {
        client = undefined;
        void c.close().catch(() => {});
      }
      throw err;
    }
  };
  return {
    call,
    close: async () => {
      const c = await client?.catch(() => undefined);
      await c?.close();
    },
  };
}
