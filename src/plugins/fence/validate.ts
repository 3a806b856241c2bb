import { existsSync, statSync } from 'node:fs';
import type { FenceAgent, FenceOptions } from './agent.js';
import type { RawOptions } from './parse.js';
import type { AgentTable } from './table.js';

/** Actions that need no device and no device options. */
export const INFO_ACTIONS = new Set(['metadata', 'manpage']);
/** As upstream, validate-all wants the plug too: it checks what a power action would need. */
const NO_PLUG_ACTIONS = new Set(['list', 'list-status', 'monitor', 'metadata', 'manpage']);

export interface Resolved {
  options: FenceOptions;
  action: string;
  errors: string[];
}

/**
 * Applies defaults and checks the options with ClusterLabs' rules and messages. Returns every problem (for
 * validate-all); the runner stops at the first for other actions.
 */
export function resolveOptions(
  values: RawOptions,
  table: AgentTable,
  agent: FenceAgent<unknown>,
  env: NodeJS.ProcessEnv,
): Resolved {
  const options: FenceOptions = {};
  for (const spec of table.options) {
    const v = values[spec.key];
    if (v !== undefined) options[spec.key] = typeof v === 'number' ? String(v) : v;
    // As ClusterLabs: --ssh without --ipport means SSH's port, whatever the telnet default.
    else if (spec.key === 'ipport' && values.secure === true) options.ipport = '22';
    else if (spec.default !== undefined)
      options[spec.key] = spec.type === 'boolean' ? spec.default === '1' : spec.default;
  }
  if (values.verbose !== undefined && options.verbose_level === undefined)
    options.verbose_level = String(values.verbose);
  const errors: string[] = [];
  let action = String(options.action ?? 'reboot').toLowerCase();
  if (action === 'meta-data') action = 'metadata';
  options.action = action;
  if (!table.actions.includes(action) && !table.hiddenActions.includes(action))
    errors.push(`Unrecognised action '${action}'`);
  if (INFO_ACTIONS.has(action) || values.help || values.version) return { options, action, errors: [] };

  const has = (key: string) => table.byName.has(key);
  const given = (key: string) => typeof options[key] === 'string' && options[key] !== '';
  if (has('login') && !agent.loginOptional && !given('login')) errors.push('You have to set login name');
  if (has('ipaddr') && !given('ipaddr')) {
    if (table.portAsIp && options.port_as_ip === true && given('port')) options.ipaddr = options.port;
    else errors.push('You have to enter fence address');
  }
  // Over SSH an identity file can stand in for the password (then its passphrase, if it has one).
  const keyed = has('identity_file');
  if (has('passwd') && !agent.passwordOptional && !given('passwd') && !given('passwd_script')) {
    if (!keyed) errors.push('You have to enter password or password script');
    else if (!given('identity_file')) errors.push('You have to enter password, password script or identity file');
  }
  if (keyed && given('identity_file')) {
    const file = String(options.identity_file);
    if (options.secure !== true) errors.push('You have to use identity file together with ssh connection (-x)');
    if (!existsSync(file) || !statSync(file).isFile()) errors.push(`Identity file ${file} does not exist`);
  }
  if (table.hasPort && !agent.plugOptional && !given('port') && !NO_PLUG_ACTIONS.has(action)) {
    errors.push('You have to enter plug number or machine identification');
  }
  for (const spec of table.options) {
    const v = options[spec.key];
    if (typeof v !== 'string' || v === '') continue;
    const flag = `--${spec.long ?? spec.key}`;
    if (spec.type === 'select') {
      const choice = spec.choices!.find((c) => c.toLowerCase() === v.toLowerCase());
      if (choice) options[spec.key] = choice;
      else
        errors.push(
          `You have to enter a valid choice for ${flag} from the valid values: [${spec.choices!.map((c) => `'${c}'`).join(', ')}]`,
        );
    } else if (spec.type === 'second' && !/^\d+(\.\d+)?$/.test(v.trim())) {
      errors.push(`The value you have entered for ${flag} is not a valid time in seconds`);
    } else if (spec.type === 'integer' && !/^-?\d+$/.test(v.trim())) {
      errors.push(`The value you have entered for ${flag} is not a valid integer`);
    }
  }
  // Under Pacemaker timeouts belong to the cluster: unless told otherwise, ours are switched off.
  const disable = options.disable_timeout ?? (env.PCMK_service === 'pacemaker-fenced' ? 'true' : undefined);
  if (typeof disable === 'string' && ['1', 'yes', 'on', 'true'].includes(disable.toLowerCase())) {
    options.power_timeout = options.shell_timeout = options.login_timeout = '0';
  }
  return { options, action, errors };
}

/** A number-valued option (seconds or integer); the validation above guarantees it parses. */
export function num(options: FenceOptions, key: string): number {
  return Number(options[key] ?? 0);
}

/** A seconds-valued option in milliseconds (0 stays 0: "no limit" for timeouts). */
export function ms(options: FenceOptions, key: string): number {
  return Math.round(num(options, key) * 1000);
}
