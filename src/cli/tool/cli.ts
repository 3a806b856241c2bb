/** vdsm-tool's argument handling and verbs, apart from the process (tests run it in process with their context). */
import { parseArgs } from 'node:util';
import { configure, isConfigured, removeConfig } from './configurator.js';
import { ToolError, type ToolContext } from './context.js';
import { USAGE, VERB_HELP } from './help.js';
import { serviceVerb, SERVICE_VERBS, type ServiceVerb } from './services.js';
import { validateConfig } from './validate.js';

const NAME = 'vdsm-tool';

class UsageError extends ToolError {}

/** The options a verb takes beyond --help. */
const VERB_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  configure: ['module', 'force'],
  'is-configured': ['module'],
  'remove-config': ['module'],
  'validate-config': [],
};

export async function runTool(argv: string[], ctx: ToolContext): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        module: { type: 'string', multiple: true },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [verb, ...args] = positionals;
  if (verb === undefined || verb === 'help') {
    if (!values.help && verb !== 'help') throw new UsageError('no verb given');
    ctx.out(USAGE.trimEnd());
    return 0;
  }
  const help = VERB_HELP[verb];
  if (!help) throw new UsageError(`unknown verb '${verb}'`);
  if (values.help) {
    ctx.out(help.trimEnd());
    return 0;
  }

  const service = /^service-(.+)$/.exec(verb)?.[1];
  if (service && (SERVICE_VERBS as readonly string[]).includes(service)) {
    if (args.length !== 1 || values.module || values.force)
      throw new UsageError(`usage: ${help.split('\n')[0]!.replace('Usage: ', '')}`);
    return serviceVerb(ctx, service as ServiceVerb, args[0]!);
  }
  const allowed = VERB_OPTIONS[verb] ?? [];
  for (const key of Object.keys(values))
    if (!allowed.includes(key)) throw new UsageError(`--${key} does not apply to '${verb}'`);
  if (args.length) throw new UsageError(`'${verb}' takes no arguments, not '${args[0]}'`);
  switch (verb) {
    case 'configure':
      return configure(ctx, values.module, values.force ?? false);
    case 'is-configured':
      return isConfigured(ctx, values.module);
    case 'remove-config':
      return removeConfig(ctx, values.module);
    default:
      return validateConfig(ctx);
  }
}

/** The CLI: a ToolError is one line on stderr and exit 1; a usage error also prints the usage. */
export async function main(argv: string[], ctx: ToolContext): Promise<number> {
  try {
    return await runTool(argv, ctx);
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    ctx.err(`${NAME}: ${err.message}`);
    if (err instanceof UsageError) ctx.err(USAGE.trimEnd());
    return 1;
  }
}
