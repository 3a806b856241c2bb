import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Clock, performAction } from './actions.js';
import { type FenceAgent, FenceError, type FenceOptions } from './agent.js';
import { withDialogue } from './dialogue.js';
import { createFenceLog, type FenceIo, type FenceLog } from './io.js';
import { renderManpage } from './manpage.js';
import { renderMetadata } from './metadata.js';
import { ParseError, type Parsed, parseArgv, parseStdin } from './parse.js';
import { buildTable } from './table.js';
import { INFO_ACTIONS, resolveOptions } from './validate.js';

const run = promisify(execFile);

export interface RunInput {
  /** The name the agent was called by (argv[0]'s basename, or fence_<agent> for Host.fenceNode). */
  name: string;
  /** Command-line arguments; when empty, options come from `stdin` (ClusterLabs never merges the two). */
  argv: string[];
  stdin?: string;
  env: NodeJS.ProcessEnv;
  /** What -V prints: the package version. */
  version?: string;
  /** When the run started (ms since the epoch; default: now): --delay counts from here, as upstream's does. */
  startedAt?: number;
  /** Time as --delay sees it (tests inject one). */
  clock?: Clock;
}

/** Runs one agent invocation end to end and returns its exit code (0 ok / 2 status off / 1 failure). */
export async function runAgent(agent: FenceAgent<unknown>, input: RunInput, io: FenceIo): Promise<number> {
  const alias = agent.aliases?.find((a) => a.name === input.name);
  const table = buildTable(agent, alias);
  let parsed: Parsed;
  try {
    parsed = input.argv.length > 0 ? parseArgv(input.argv, table) : parseStdin(input.stdin ?? '', table);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    io.err(`Parse error: ${err.message}\n\nPlease use '-h' for usage\n`);
    return 1;
  }
  const startedAt = input.startedAt ?? Date.now();
  if (parsed.values.help === true) {
    io.out(usage(table));
    return 0;
  }
  const { options, action, errors } = resolveOptions(parsed.values, table, agent, input.env);
  const secrets = () =>
    table.options
      .filter((s) => s.secret)
      .flatMap((s) => {
        const value = options[s.key];
        return typeof value === 'string' ? [value] : [];
      });
  const sinks = { verbosity: Number(options.verbose_level ?? 0), quiet: options.quiet === true, secrets };
  let log = createFenceLog(io, sinks);
  for (const w of parsed.warnings) log.warn(w);
  // As upstream: metadata (and the man page) before the version.
  if (INFO_ACTIONS.has(action)) {
    io.out(
      action === 'manpage'
        ? renderManpage(agent, table, input.version)
        : (await renderMetadata(agent, table)).trimEnd(),
    );
    return 0;
  }
  if (parsed.values.version === true) {
    io.out(input.version ?? 'unknown');
    return 0;
  }
  if (action === 'validate-all') {
    if (errors.length === 0) return 0;
    return refuse(log, ...errors.map((e) => `Failed: ${e}`), 'validate-all failed');
  }
  if (errors.length > 0) return refuse(log, `Failed: ${errors[0]}`);
  const debugFile = typeof options.debug === 'string' && options.debug !== '' ? options.debug : undefined;
  if (debugFile !== undefined) {
    if (!io.openDebugFile) log.info('debug_file is ignored in process: the dialogue goes to this log');
    else {
      try {
        log = createFenceLog(io, { ...sinks, file: io.openDebugFile(debugFile) });
      } catch {
        return refuse(log, `Failed: Unable to create file ${debugFile}`);
      }
    }
  }
  return withDialogue(log, () => act(agent, table, action, options, log, io, { startedAt, clock: input.clock }));
}

/** ClusterLabs' answer to options it will not run with: the reasons, the pointer to -h, exit 1. */
function refuse(log: FenceLog, ...reasons: string[]): number {
  for (const reason of reasons) log.error(reason);
  log.error("Please use '-h' for usage");
  return 1;
}

async function act(
  agent: FenceAgent<unknown>,
  table: ReturnType<typeof buildTable>,
  action: string,
  options: FenceOptions,
  log: FenceLog,
  io: FenceIo,
  time: { startedAt: number; clock?: Clock },
): Promise<number> {
  try {
    // Secrets from scripts, as ClusterLabs: only once the options are valid, only when not given directly.
    for (const [secret, script] of [
      ['passwd', 'passwd_script'],
      ['snmp_priv_passwd', 'snmp_priv_passwd_script'],
    ] as const) {
      const program = options[script];
      if (typeof program === 'string' && program !== '' && !options[secret])
        options[secret] = await passwordFromScript(program);
    }
    return await performAction(action, {
      agent,
      table,
      options,
      log,
      out: io.out,
      startedAt: time.startedAt,
      clock: time.clock,
    });
  } catch (err) {
    if (err instanceof FenceError) {
      log.error(err.message);
      return 1;
    }
    log.error(`Failed: ${(err as Error).message}`);
    return 1;
  }
}

/**
 * ClusterLabs runs the password script through a shell; we run it directly (program and whitespace-separated
 * arguments), so no shell ever sees option text.
 */
async function passwordFromScript(script: string): Promise<string> {
  const [program, ...args] = script.trim().split(/\s+/);
  try {
    const { stdout } = await run(program!, args, { timeout: 30_000, maxBuffer: 64 * 1024 });
    return stdout.replace(/\s+$/, '');
  } catch (err) {
    throw new FenceError(
      `Failed: password script ${program} failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

function usage(table: ReturnType<typeof buildTable>): string {
  const lines = [`Usage:`, `\t${table.name} [options]`, `Options:`];
  for (const s of [...table.options].sort((a, b) => a.order - b.order || a.key.localeCompare(b.key))) {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${s.long ?? s.key}${s.arg ? `=[${s.arg}]` : ''}`;
    lines.push(`   ${flag.padEnd(40)}${s.description}${s.default !== undefined ? ` (default: ${s.default})` : ''}`);
  }
  lines.push('', 'With no options on the command line, options are read from standard input as key=value lines.');
  return lines.join('\n');
}
