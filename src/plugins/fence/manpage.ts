import type { FenceAgent } from './agent.js';
import { newName, type OptionSpec, takesValue } from './options.js';
import type { AgentTable } from './table.js';

/** Text as roff shows it literally: backslashes, hyphens, and a leading control character escaped. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');
}

const ACTIONS: Record<string, string> = {
  on: 'Power the machine on.',
  off: 'Power the machine off.',
  reboot: 'Power the machine off, then on again (or one power cycle with \\fB\\-\\-method cycle\\fR).',
  status: 'Print the power state; exit 0 when on, 2 when off.',
  list: 'List the plugs of the device, one "plug,alias" per line.',
  'list-status': 'List the plugs with their power state.',
  monitor: 'Check that the device answers.',
  metadata: 'Print the XML description of this agent (as Pacemaker reads it).',
  manpage: 'Print this manual page.',
  'validate-all': 'Check the options without contacting the device.',
  diag: 'Send a diagnostic interrupt (the machine may dump its kernel and reboot).',
};

function optionLine(spec: OptionSpec): string {
  const value = takesValue(spec) ? `=\\fI${roff(spec.arg ?? 'value')}\\fR` : '';
  const long = `\\fB\\-\\-${roff(spec.long ?? spec.key)}\\fR${value}`;
  return spec.short ? `\\fB\\-${roff(spec.short)}\\fR, ${long}` : long;
}

/** An option's description as a sentence. */
const sentence = (text: string) => roff(/[.!?]$/.test(text) ? text : `${text}.`);

function facts(spec: OptionSpec): string[] {
  const out: string[] = [];
  if (spec.choices) out.push(`One of: ${spec.choices.map(roff).join(', ')}.`);
  if (spec.default !== undefined) out.push(`Default: ${roff(spec.default)}.`);
  if (spec.required) out.push('Required.');
  return out;
}

/**
 * `-o manpage`: a man page (section 8) for the agent under the name it was called by, from the same option table
 * the metadata is built from: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, ACTIONS, STDIN PARAMETERS, EXIT STATUS.
 */
export function renderManpage(agent: FenceAgent<unknown>, table: AgentTable, version = ''): string {
  const name = roff(table.name);
  const specs = [...table.options].sort((a, b) => a.order - b.order || a.key.localeCompare(b.key));
  const others = [agent.name, ...(agent.aliases ?? []).map((a) => a.name)].filter((n) => n !== table.name);
  const out = [
    `.TH ${name.toUpperCase()} 8 "" "vdsm\\-ts${version ? ` ${roff(version)}` : ''}" "System Manager's Manual"`,
    '.nh',
    '.ad l',
    '.SH NAME',
    `${name} \\- ${roff(table.shortdesc)}`,
    '.SH SYNOPSIS',
    `.B ${name}`,
    '[\\fIOPTION\\fR]...',
    '.br',
    `.B ${name}`,
    '< \\fIFILE\\fR',
    '.SH DESCRIPTION',
    roff(agent.longdesc),
    '.PP',
    'With no options on the command line, the options are read from standard input, one',
    '\\fIname\\fR=\\fIvalue\\fR per line (see \\fBSTDIN PARAMETERS\\fR); the two are never merged.',
  ];
  if (others.length > 0) out.push('.PP', `The same agent also answers to: ${others.map(roff).join(', ')}.`);
  out.push('.SH OPTIONS');
  for (const spec of specs) out.push('.TP', optionLine(spec), [sentence(spec.description), ...facts(spec)].join(' '));
  out.push('.SH ACTIONS');
  for (const action of table.actions) out.push('.TP', `\\fB${roff(action)}\\fR`, ACTIONS[action] ?? '');
  out.push('.SH STDIN PARAMETERS');
  for (const spec of specs) {
    const modern = newName(spec);
    const names = modern === spec.key ? [spec.key] : [modern, spec.key];
    const alias = names.length > 1 ? ` Also accepted under its old name \\fB${roff(spec.key)}\\fR.` : '';
    out.push('.TP', `\\fB${roff(names[0]!)}\\fR`, [`Same as ${optionLine(spec)}.${alias}`, ...facts(spec)].join(' '));
  }
  out.push(
    '.SH EXIT STATUS',
    '.TP',
    '.B 0',
    'Success: the action was carried out and confirmed, or \\fBstatus\\fR found the machine on.',
    '.TP',
    '.B 1',
    'Failure: bad options, the device could not be reached or refused the login, a timeout, or an error of the device.',
    '.TP',
    '.B 2',
    '\\fBstatus\\fR found the machine off.',
  );
  return out.join('\n');
}
