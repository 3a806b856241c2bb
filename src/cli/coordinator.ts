/**
 * `vdsm-ts-coordinator`: `serve` runs a coordinator replica (its HTTP API, docs/coordinator-api.md); every other
 * command is a client of that API (docs/coordinator-cli.md). Exit codes: 0 done, 1 refused or failed (the reason
 * on stderr), 2 usage. No command runs a shell: arguments go into JSON bodies and percent-encoded paths.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from './config-error.js';
import { exitWithCode, serveUntilSignalled } from './daemon.js';
import { createLogger } from './log.js';
import { ApiClient, CliError } from './coordinator/client.js';
import { CLIENT_COMMANDS, type ClientCommand, type CommandValues } from './coordinator/commands.js';
import { DEFAULT_COORDINATOR_CONFIG, loadCoordinatorConfig } from './coordinator/config.js';
import { loadServeConfig } from './coordinator/serve-config.js';
import { startCoordinatorService } from './coordinator/service.js';

const NAME = 'vdsm-ts-coordinator';

const OPTIONS = {
  url: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  by: { type: 'string' },
  yes: { type: 'boolean' },
  follow: { type: 'boolean', short: 'f' },
  since: { type: 'string' },
  limit: { type: 'string' },
  address: { type: 'string' },
  port: { type: 'string' },
  cluster: { type: 'string' },
  agent: { type: 'string', multiple: true },
  'ssh-user': { type: 'string' },
  'ssh-port': { type: 'string' },
  'ssh-host-key': { type: 'string' },
  'ssh-key-ref': { type: 'string' },
  'storage-host-id': { type: 'string', multiple: true },
  'proxy-preference': { type: 'string' },
  'keep-vms': { type: 'boolean' },
  xml: { type: 'string' },
  ha: { type: 'boolean' },
  priority: { type: 'string' },
  host: { type: 'string' },
  listen: { type: 'string' },
  'log-level': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const GLOBAL = ['url', 'config', 'help'];

const usageLine = (c: Pick<ClientCommand, 'words' | 'args'>) => [...c.words, ...c.args].join(' ');

const HELP = `Usage: ${NAME} COMMAND [options]

The vdsm-ts HA coordinator: fences hosts that stop answering and restarts their VMs elsewhere.

  serve [--listen ADDR] [--port N] [--log-level L]
      run a coordinator replica: its HTTP API on ADDR:N (default 127.0.0.1:54380)
${CLIENT_COMMANDS.map((c) => `  ${usageLine(c)}\n      ${c.summary}`).join('\n')}

Client options: --url URL (the API; default from the config, else http://127.0.0.1:54380), --json (the API's
answer as JSON), --by NAME (who asks, recorded in the audit trail; default $SUDO_USER, else $USER).
Config: --config FILE, else $VDSM_TS_COORDINATOR_CONFIG, else ${DEFAULT_COORDINATOR_CONFIG} when it exists;
its [api] section: listen, port, url. Environment: VDSM_TS_COORDINATOR_LISTEN, _PORT, _URL.
Exit codes: 0 done, 1 refused or failed (the reason on stderr), 2 usage.
`;

const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
const err = (text: string) => process.stderr.write(`${NAME}: ${text}\n`);

function usage(message: string): never {
  throw new CliError(message, 2);
}

/** Every option given that the command does not take is a usage error (a misplaced --port is not ignored). */
function checkOptions(values: Record<string, unknown>, allowed: readonly string[], command: string): void {
  for (const key of Object.keys(values)) {
    if (!GLOBAL.includes(key) && !allowed.includes(key)) usage(`--${key} does not apply to '${command}'`);
  }
}

async function serve(values: CommandValues & { 'log-level'?: string }): Promise<number> {
  const config = loadCoordinatorConfig(
    { config: values.config, listen: values.listen, port: values.port, url: values.url },
    process.env,
  );
  const root = createLogger(values['log-level'] ?? process.env.VDSM_TS_COORDINATOR_LOG_LEVEL ?? 'info');
  const log = root.child({ name: NAME });
  return serveUntilSignalled({
    name: NAME,
    log,
    flushLog: () => root.finish(),
    start: () => startCoordinatorService(config, { serve: loadServeConfig(config.configFile), log }),
    started: (service) =>
      log.info({ listen: config.listen, port: service.port, config: config.configFile }, 'coordinator API listening'),
  });
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help || positionals[0] === 'help') {
    out(HELP);
    return 0;
  }
  if (positionals.length === 0) {
    process.stderr.write(HELP);
    return 2;
  }
  if (positionals[0] === 'serve') {
    if (positionals.length > 1) usage(`serve takes no arguments, not '${positionals[1]}'`);
    checkOptions(values, ['listen', 'port', 'log-level'], 'serve');
    return serve(values);
  }
  const command = CLIENT_COMMANDS.filter((c) => c.words.every((w, i) => positionals[i] === w)).sort(
    (a, b) => b.words.length - a.words.length,
  )[0];
  if (!command) {
    const group = CLIENT_COMMANDS.filter((c) => c.words[0] === positionals[0]);
    usage(
      group.length
        ? `'${positionals.join(' ')}': ${group.map((c) => usageLine(c)).join(' | ')}`
        : `unknown command '${positionals[0]}'`,
    );
  }
  const args = positionals.slice(command.words.length);
  if (args.length !== command.args.length) usage(`usage: ${NAME} ${usageLine(command)}`);
  checkOptions(values, command.options, command.words.join(' '));
  const config = loadCoordinatorConfig({ config: values.config, url: values.url }, process.env);
  return command.run({ args, values, client: new ApiClient(config.url), out, err, env: process.env });
}

exitWithCode(NAME, () =>
  main(process.argv.slice(2)).catch((e: unknown) => {
    if (e instanceof CliError || e instanceof ConfigError) {
      err(e.message);
      const code = e instanceof CliError ? e.exitCode : 2;
      if (code === 2) process.stderr.write(`Try '${NAME} --help'.\n`);
      return code;
    }
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      err((e as Error).message);
      process.stderr.write(`Try '${NAME} --help'.\n`);
      return 2;
    }
    throw e;
  }),
);
