import { type OptionSpec, takesValue } from './options.js';
import type { AgentTable } from './table.js';

/** Raw values by option key: strings, or booleans for flags. `verbose` counts repeated -v. */
export type RawOptions = Record<string, string | boolean | number>;

export interface Parsed {
  values: RawOptions;
  /** Non-fatal notes for stderr (never holding an option's value). */
  warnings: string[];
}

export class ParseError extends Error {
  override name = 'ParseError';
}

const TRUE = new Set(['1', 'yes', 'on', 'true']);
const FALSE = new Set(['0', 'no', 'off', 'false']);

/**
 * Command-line form, with GNU getopt's rules as ClusterLabs' agents use them: short options may be bundled
 * (`-vvv`, `-ooff`), long options take `=value` or the next argument and may be abbreviated to a unique prefix,
 * operands may be interleaved (they only earn a warning), `--` ends the options.
 */
export function parseArgv(args: string[], table: AgentTable): Parsed {
  const values: RawOptions = {};
  const operands: string[] = [];
  const set = (spec: OptionSpec, value: string | undefined) => {
    if (spec.key === 'verbose') values.verbose = Number(values.verbose ?? 0) + 1;
    else values[spec.key] = takesValue(spec) ? value! : true;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = findLong(name, table);
      if (!spec) throw new ParseError(`option --${name} not recognized`);
      if (!takesValue(spec)) {
        if (eq >= 0) throw new ParseError(`option --${spec.long} must not have an argument`);
        set(spec, undefined);
      } else if (eq >= 0) set(spec, arg.slice(eq + 1));
      else if (i + 1 < args.length) set(spec, args[++i]);
      else throw new ParseError(`option --${spec.long} requires argument`);
    } else if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const spec = table.byShort.get(arg[j]!);
        if (!spec) throw new ParseError(`option -${arg[j]} not recognized`);
        if (!takesValue(spec)) {
          set(spec, undefined);
          continue;
        }
        if (j + 1 < arg.length) set(spec, arg.slice(j + 1));
        else if (i + 1 < args.length) set(spec, args[++i]);
        else throw new ParseError(`option -${arg[j]} requires argument`);
        break;
      }
    } else {
      operands.push(arg);
    }
  }
  return { values, warnings: operands.length ? ['Unused arguments on command line'] : [] };
}

function findLong(name: string, table: AgentTable): OptionSpec | undefined {
  const exact = table.options.find((s) => s.long === name);
  if (exact) return exact;
  const candidates = table.options.filter((s) => s.long?.startsWith(name));
  return name.length > 0 && candidates.length === 1 ? candidates[0] : undefined;
}

/**
 * stdin form (Pacemaker, fenced, vdsm): `key=value` lines; blank lines and `#` comments skipped; the first `=`
 * splits; one pair of surrounding double quotes is removed; the last occurrence wins; a key is the old name or
 * the long name with `-` or `_`. Unlike ClusterLabs, an unknown key is reported without its value (it may be a
 * secret) and a boolean `=0` really means false.
 */
export function parseStdin(text: string, table: AgentTable): Parsed {
  const values: RawOptions = {};
  const warnings: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = (eq < 0 ? line : line.slice(0, eq)).trim();
    let value = eq < 0 ? '' : line.slice(eq + 1);
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    // `option` is the API's deprecated name of `action`; ClusterLabs warns and runs the default (reboot).
    const spec = table.byName.get(name === 'option' ? 'action' : name) ?? table.byName.get(name.replace(/-/g, '_'));
    if (!spec) {
      // Pacemaker passes `nodename` to every agent; vdsm passes `agent`.
      if (name !== 'nodename' && name !== 'agent') warnings.push(`Parse error: Ignoring unknown option '${name}'`);
      continue;
    }
    if (takesValue(spec)) values[spec.key] = value;
    else if (TRUE.has(value.toLowerCase()) || value === '') values[spec.key] = spec.key === 'verbose' ? 1 : true;
    else if (FALSE.has(value.toLowerCase())) values[spec.key] = spec.key === 'verbose' ? 0 : false;
    else
      warnings.push(`Parse error: Ignoring option '${name}': '${spec.secret ? '********' : value}' is not a boolean`);
  }
  return { values, warnings };
}
