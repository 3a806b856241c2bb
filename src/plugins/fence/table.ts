import type { AgentAlias, FenceAgent } from './agent.js';
import { BASE_OPTIONS, newName, OPTIONAL_OPTIONS, type OptionSpec } from './options.js';

/** The full option table of one agent under one of its names: common options it uses, its own, its defaults. */
export interface AgentTable {
  name: string;
  shortdesc: string;
  options: OptionSpec[];
  /** stdin names (key, long name with `_` or `-`) and `--long` names → spec. */
  byName: Map<string, OptionSpec>;
  byShort: Map<string, OptionSpec>;
  hasPort: boolean;
  portAsIp: boolean;
  /** Actions metadata advertises. */
  actions: string[];
  /** Accepted but not advertised: list on single-plug agents answers with a notice, as upstream. */
  hiddenActions: string[];
}

export function buildTable(agent: FenceAgent<unknown>, alias?: AgentAlias): AgentTable {
  const uses = new Set(agent.uses);
  const hasPort = uses.has('port');
  // Agents without a plug take the device address from --plug with --port-as-ip (upstream adds it itself).
  const portAsIp = !hasPort && uses.has('ipaddr');
  if (hasPort) uses.add('separator');
  if (portAsIp) uses.add('port').add('port_as_ip');
  const defaults = { ...agent.defaults, ...alias?.defaults };
  const options: OptionSpec[] = [...BASE_OPTIONS];
  for (const key of uses) options.push(...(OPTIONAL_OPTIONS[key] ?? []));
  options.push(...(agent.options ?? []));
  const table = options.map((spec) => {
    const s = { ...spec };
    if (defaults[s.key] !== undefined) s.default = defaults[s.key];
    if (s.key === 'login') s.required = !agent.loginOptional;
    if (portAsIp && (s.key === 'ipaddr' || s.key === 'port')) s.required = false;
    if (portAsIp && s.key === 'port') s.arg = 'ip';
    return s;
  });
  const byName = new Map<string, OptionSpec>();
  const byShort = new Map<string, OptionSpec>();
  for (const s of table) {
    byName.set(s.key, s);
    byName.set(newName(s), s);
    if (s.long) byName.set(s.long, s);
    if (s.short) {
      if (byShort.has(s.short)) throw new Error(`${agent.name}: short option -${s.short} is declared twice`);
      byShort.set(s.short, s);
    }
  }
  const actions = ['on', 'off', 'reboot', 'status'];
  if (hasPort) actions.push('list', 'list-status');
  actions.push('monitor', 'metadata', 'manpage', 'validate-all');
  if (agent.diag) actions.push('diag');
  const hiddenActions = hasPort ? [] : ['list', 'list-status'];
  return {
    name: alias?.name ?? agent.name,
    shortdesc: alias?.shortdesc ?? agent.shortdesc,
    options: table,
    byName,
    byShort,
    hasPort,
    portAsIp,
    actions,
    hiddenActions,
  };
}
