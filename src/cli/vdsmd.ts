import { describeServing, HELP, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { brokerHaStatus } from '../hosted-engine/vdsm-ha-status.js';
import { startVdsmd } from './service.js';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`vdsmd: ${message}\nTry 'vdsmd --help'.\n`);
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const log = createLogger(config.logLevel);
  if (config.configFile === null) log.warn(`no config file: running on the embedded defaults (${describeServing(config)})`);
  let service;
  try {
    service = await startVdsmd(config, { log, ha: brokerHaStatus(config.heConf) });
  } catch (err) {
    log.fatal({ err }, 'vdsmd failed to start');
    await log.finish();
    process.stderr.write(`vdsmd: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  log.info({ port: service.port, ssl: config.ssl, libvirt: config.libvirtUri }, 'vdsmd listening; recovering');
  const stop = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  void service.recovered.then(() => service.virt.vms && log.info({ port: service.port, ssl: config.ssl, config: config.configFile ?? 'embedded default' }, 'vdsmd ready'));
  await stop;
  log.info('vdsmd stopping');
  await service.close();
  await log.finish();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vdsmd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
