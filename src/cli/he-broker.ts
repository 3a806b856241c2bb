import { startBroker } from '../hosted-engine/broker/server.js';
import { DEFAULT_CONF_FILE, readConf } from '../hosted-engine/conf.js';
import { vdsmCaller } from '../hosted-engine/vdsm-connect.js';
import { createLogger } from './log.js';

/** he-broker [--conf FILE]: the hosted-engine HA broker (monitors, whiteboard, lease) on its local socket. */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const confPath = args[0] === '--conf' && args[1] ? args[1] : (process.env.HOSTED_ENGINE_CONF ?? DEFAULT_CONF_FILE);
  const root = createLogger(process.env.HE_LOG_LEVEL ?? 'info');
  const log = root.child({ name: 'he-broker' });
  const conf = readConf(confPath);
  const vdsm = vdsmCaller(conf);
  const broker = await startBroker(conf, { vdsm: vdsm.call, log });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await broker.close();
  await vdsm.close();
  await root.finish();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`he-broker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
