import type { Logger } from 'pino';
import { DEFAULT_CONF_FILE, readConf, type HeConf } from '../hosted-engine/conf.js';
import type { VdsmCall } from '../hosted-engine/monitors/types.js';
import { vdsmCaller } from '../hosted-engine/vdsm-connect.js';
import { exitWithCode, serveUntilSignalled, type Closable } from './daemon.js';
import { createLogger } from './log.js';

/**
 * The shared life of he-broker and he-agent: `--conf FILE` (else $HOSTED_ENGINE_CONF, else the default), a
 * logger, a vdsmd connection, the service until SIGTERM/SIGINT, then an orderly stop. Exits 1 with the reason
 * when the service cannot start.
 */
export function runHeDaemon(
  name: string,
  start: (conf: HeConf, deps: { vdsm: VdsmCall; log: Logger }) => Promise<Closable>,
): void {
  exitWithCode(name, async () => {
    const args = process.argv.slice(2);
    const confPath = args[0] === '--conf' && args[1] ? args[1] : (process.env.HOSTED_ENGINE_CONF ?? DEFAULT_CONF_FILE);
    const root = createLogger(process.env.HE_LOG_LEVEL ?? 'info');
    const log = root.child({ name });
    return serveUntilSignalled({
      name,
      log,
      flushLog: () => root.finish(),
      start: async () => {
        const conf = readConf(confPath);
        const vdsm = vdsmCaller(conf);
        const service = await start(conf, { vdsm: vdsm.call, log });
        return {
          close: async () => {
            await service.close();
            await vdsm.close();
          },
        };
      },
    });
  });
}
