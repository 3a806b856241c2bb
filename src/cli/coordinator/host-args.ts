/**
 * `host add`'s flags → the inventory record, checked with the API's own schema before anything is sent. An
 * agent is one `--agent key=value,...`; a password is never one of them (it would sit in argv and the shell's
 * history): the agent names its file in the secrets directory with `password-ref=NAME`.
 */
import type { z } from 'zod';
import { describeIssues } from '../../coordinator/api/issues.js';
import { hostInput } from '../../coordinator/api/schemas.js';
import { CliError } from './client.js';

export interface HostAddFlags {
  address?: string;
  port?: string;
  cluster?: string;
  agent?: string[];
  'ssh-user'?: string;
  'ssh-port'?: string;
  'ssh-host-key'?: string;
  'ssh-key-ref'?: string;
  /** DOMAIN=ID: the host's id in that storage domain's sanlock lockspace (the fencing policy). */
  'storage-host-id'?: string[];
  /** Where its fence proxy comes from, in order: cluster, dc (comma-separated). */
  'proxy-preference'?: string;
}

const usage = (message: string) => new CliError(message, 2);

const AGENT_KEYS: Record<string, string> = {
  name: 'name',
  type: 'type',
  address: 'address',
  plug: 'plug',
  username: 'username',
  'password-ref': 'passwordRef',
  order: 'order',
  secure: 'secure',
};

function number(text: string, what: string): number {
  if (!/^\d{1,9}$/.test(text)) throw usage(`${what} must be a whole number`);
  return Number(text);
}

function bool(text: string, what: string): boolean {
  const t = text.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  throw usage(`${what} must be true or false`);
}

/** `type=ipmilan,address=10.0.0.5,username=admin,password-ref=bmc1,order=1,option=lanplus=1` → an agent record. */
export function parseAgent(spec: string, index: number): Record<string, unknown> {
  const agent: Record<string, unknown> = {};
  const options: Record<string, string> = {};
  for (const item of spec.split(',')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    const what = `--agent #${index + 1} ${key}`;
    if (/^(password|passwd|pass)$/i.test(key))
      throw usage(
        `--agent #${index + 1}: a password never goes on the command line: put it in a file of the coordinator's secrets directory and give password-ref=NAME`,
      );
    if (eq < 0) throw usage(`--agent #${index + 1}: "${key}" needs a value (key=value)`);
    if (key === 'option') {
      const oeq = value.indexOf('=');
      if (oeq <= 0) throw usage(`--agent #${index + 1}: option takes name=value (option=lanplus=1)`);
      options[value.slice(0, oeq)] = value.slice(oeq + 1);
    } else if (key === 'order') agent.order = number(value, what);
    else if (key === 'secure') agent.secure = bool(value, what);
    else if (AGENT_KEYS[key]) agent[AGENT_KEYS[key]] = value;
    else
      throw usage(`--agent #${index + 1}: unknown key "${key}" (${[...Object.keys(AGENT_KEYS), 'option'].join(', ')})`);
  }
  if (Object.keys(options).length) agent.options = options;
  if (agent.name === undefined && typeof agent.type === 'string') agent.name = `${agent.type}-${index + 1}`;
  return agent;
}

export function hostFromFlags(id: string, flags: HostAddFlags): z.output<typeof hostInput> {
  if (flags.address === undefined) throw usage('host add needs --address (where its vdsmd listens)');
  const record: Record<string, unknown> = { id, address: flags.address };
  if (flags.port !== undefined) record.port = number(flags.port, '--port');
  if (flags.cluster !== undefined) record.cluster = flags.cluster;
  record.agents = (flags.agent ?? []).map(parseAgent);
  const ids: Record<string, number> = {};
  for (const pair of flags['storage-host-id'] ?? []) {
    const m = /^([^=]+)=(\d{1,4})$/.exec(pair);
    if (!m) throw usage(`--storage-host-id takes DOMAIN_UUID=HOST_ID, not "${pair.slice(0, 80)}"`);
    ids[m[1]!] = Number(m[2]);
  }
  if (Object.keys(ids).length > 0) record.storageHostIds = ids;
  if (flags['proxy-preference'] !== undefined) record.proxyPreference = flags['proxy-preference'].split(',');
  const ssh = ['ssh-user', 'ssh-port', 'ssh-host-key', 'ssh-key-ref'] as const;
  if (ssh.some((k) => flags[k] !== undefined)) {
    if (flags['ssh-host-key'] === undefined || flags['ssh-key-ref'] === undefined)
      throw usage('soft fencing over SSH needs both --ssh-host-key SHA256:... and --ssh-key-ref NAME');
    record.ssh = {
      hostKeySha256: flags['ssh-host-key'],
      keyRef: flags['ssh-key-ref'],
      ...(flags['ssh-user'] === undefined ? {} : { user: flags['ssh-user'] }),
      ...(flags['ssh-port'] === undefined ? {} : { port: number(flags['ssh-port'], '--ssh-port') }),
    };
  }
  const parsed = hostInput.safeParse(record);
  if (!parsed.success) throw usage(describeIssues(parsed.error, 'host'));
  return parsed.data;
}
