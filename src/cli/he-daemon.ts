import type { Logger } from 'pino';
import { DEFAULT_CONF_FILE, readConf, type HeConf } from '../hosted-engine/conf.js';
import type { VdsmCall } from '../hosted-engine/monitors/types.js';
import { vdsmCaller } from '../hosted-engine/vdsm-connect.js';
import { createLogger } from './log.js';

/**
 * The shared life of he-broker and he-agent: `--conf FILE` (else $HOSTED_ENGINE_CONF, else the default), a
 * logger, a vdsmd connection, the service until SIGTERM/SIGINT, then an orderly stop. Exits 1 with the reason
 * when the service cannot start.
 */
export function runHeDaemon(name: string, start: (conf: HeConf, deps: { vdsm: VdsmCall; log: Logger }) => Promise<{ close(): Promise<void> }>): void {
  const main = async (): Promise<number> => {
    const args = process.argv.slice(2);
    const confPath = args[0] === '--conf' && args[1] ? args[1] : (process.env.HOSTED_ENGINE_CONF ?? DEFAULT_CONF_FILE);
    const root = createLogger(process.env.HE_LOG_LEVEL ?? 'info');
    const log = root.child({ name });
    const conf = readConf(confPath);
    const vdsm = vdsmCaller(conf);
    const service = await start(conf, { vdsm: vdsm.call, log });
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await service.close();
    await vdsm.close();
    await root.finish();
    return 0;
  };
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
