import { describeServing, HELP, loadConfig, type VdsmdConfig } from './config.js';
import { exitWithCode, serveUntilSignalled } from './daemon.js';
import { createLogger } from './log.js';
import { brokerHaStatus } from '../hosted-engine/vdsm-ha-status.js';
import { startVdsmd } from './service.js';

async function main(): Promise<number> {
  const config = configOrExitCode(process.argv.slice(2), process.env);
  if (typeof config === 'number') return config;
  const log = createLogger(config.logLevel);
  if (config.configFile === null)
    log.warn(`no config file: running on the embedded defaults (${describeServing(config)})`);
  return serveUntilSignalled({
    name: 'vdsmd',
    log,
    flushLog: () => log.finish(),
    start: () => startVdsmd(config, { log, ha: brokerHaStatus(config.heConf) }),
    started: (service) => {
      log.info({ port: service.port, ssl: config.ssl, libvirt: config.libvirtUri }, 'vdsmd listening; recovering');
      void service.recovered.then(
        () =>
          service.virt.vms &&
          log.info(
            { port: service.port, ssl: config.ssl, config: config.configFile ?? 'embedded default' },
            'vdsmd ready',
          ),
      );
    },
  });
}

/** The settings to serve with, or the exit code when there is nothing to serve: 0 after --help, 2 for a bad setting. */
function configOrExitCode(argv: string[], env: NodeJS.ProcessEnv): VdsmdConfig | number {
  let config;
  try {
    config = loadConfig(argv, env);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`vdsmd: ${message}\nTry 'vdsmd --help'.\n`);
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  return config;
}

exitWithCode('vdsmd', main);
