/** The client commands of `vdsm-ts-coordinator`: each one call of the HTTP API, its answer printed. */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { z } from 'zod';
import { describeIssues } from '../../coordinator/api/issues.js';
import {
  accepted,
  by as bySchema,
  event,
  hostId,
  hostView,
  status,
  vmRef,
  vmView,
} from '../../coordinator/api/schemas.js';
import { ApiClient, CliError } from './client.js';
import { formatEvent, formatHosts, formatStatus, formatVms, hostsJson } from './format.js';
import { hostFromFlags, type HostAddFlags } from './host-args.js';

export interface CommandValues extends HostAddFlags {
  url?: string;
  config?: string;
  json?: boolean;
  by?: string;
  yes?: boolean;
  follow?: boolean;
  since?: string;
  limit?: string;
  'keep-vms'?: boolean;
  xml?: string;
  ha?: boolean;
  priority?: string;
  host?: string;
  listen?: string;
}

export interface CommandContext {
  /** The positional arguments after the command's words. */
  args: string[];
  values: CommandValues;
  client: ApiClient;
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

export interface ClientCommand {
  words: string[];
  args: string[];
  /** Options it takes besides --url, --config and --help. */
  options: (keyof CommandValues)[];
  summary: string;
  run(ctx: CommandContext): Promise<number>;
}

const usage = (message: string) => new CliError(message, 2);

/** The API's answer, checked: a coordinator of another version answering something else is an error, not a crash. */
function answer<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new CliError(`unexpected answer from the coordinator: ${describeIssues(r.error, 'answer')}`, 1);
  return r.data;
}

function arg<S extends z.ZodType>(schema: S, text: string, what: string): z.output<S> {
  const r = schema.safeParse(text);
  if (!r.success) throw usage(`${what}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/** Who asks: --by, else the person behind sudo, else the login name. */
export function caller(values: CommandValues, env: NodeJS.ProcessEnv): string {
  const name = values.by ?? env.SUDO_USER ?? env.USER ?? env.LOGNAME ?? safeUserName();
  return arg(bySchema, name, values.by === undefined ? 'your user name (give --by NAME)' : '--by');
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function number(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw usage(`${what} must be a whole number`);
  return Number(text);
}

const seg = encodeURIComponent;

/** A change was queued: its detail, or the answer as JSON. */
async function change(ctx: CommandContext, call: Promise<unknown>): Promise<number> {
  const a = answer(accepted, await call);
  ctx.out(ctx.values.json ? JSON.stringify(a) : a.detail);
  return 0;
}

function onOff(text: string): boolean {
  if (text === 'on') return true;
  if (text === 'off') return false;
  throw usage(`on or off, not "${text}"`);
}

export const CONFIRM_WARNING = (host: string) =>
  `WARNING: confirm only that ${host} was rebooted or is powered off. If it still runs, every VM it ran will run twice, there and on the host it is restarted on, and their disks can be corrupted.`;

export const CLIENT_COMMANDS: ClientCommand[] = [
  {
    words: ['status'],
    args: [],
    options: ['json'],
    summary: 'this replica, the leader, etcd, hosts and VMs by state',
    run: async (ctx) => {
      const s = answer(status, await ctx.client.get('/status'));
      ctx.out(ctx.values.json ? JSON.stringify(s, null, 2) : formatStatus(s));
      return 0;
    },
  },
  {
    words: ['hosts'],
    args: [],
    options: ['json'],
    summary: 'every host: state, cluster, address, VMs and its hosted-engine HA line',
    run: async (ctx) => {
      const hosts = answer(z.array(hostView), await ctx.client.get('/hosts'));
      ctx.out(ctx.values.json ? JSON.stringify(hostsJson(hosts), null, 2) : formatHosts(hosts));
      return 0;
    },
  },
  {
    words: ['vms'],
    args: [],
    options: ['json'],
    summary: 'every VM: state, host, HA flag, priority, memory',
    run: async (ctx) => {
      const vms = answer(z.array(vmView), await ctx.client.get('/vms'));
      ctx.out(ctx.values.json ? JSON.stringify(vms, null, 2) : formatVms(vms));
      return 0;
    },
  },
  {
    words: ['events'],
    args: [],
    options: ['json', 'follow', 'since', 'limit'],
    summary: 'the audit trail (--since SEQ, --limit N; --follow: then every new event as it comes)',
    run: async (ctx) => {
      const since = number(ctx.values.since, '--since');
      const limit = number(ctx.values.limit, '--limit');
      const print = (e: z.output<typeof event>) => ctx.out(ctx.values.json ? JSON.stringify(e) : formatEvent(e));
      if (ctx.values.follow) {
        if (limit !== undefined) throw usage('--limit does not apply to --follow');
        const q = since === undefined ? '' : `?since=${since}`;
        for await (const line of ctx.client.lines(`/events/follow${q}`)) print(answer(event, line));
        return 0;
      }
      const q = new URLSearchParams();
      if (since !== undefined) q.set('since', String(since));
      if (limit !== undefined) q.set('limit', String(limit));
      const events = answer(z.array(event), await ctx.client.get(`/events${q.toString() ? `?${q}` : ''}`));
      for (const e of events) print(e);
      return 0;
    },
  },
  {
    words: ['host', 'add'],
    args: ['HOST'],
    options: [
      'json',
      'by',
      'address',
      'port',
      'cluster',
      'agent',
      'ssh-user',
      'ssh-port',
      'ssh-host-key',
      'ssh-key-ref',
      'storage-host-id',
      'proxy-preference',
    ],
    summary:
      'add a host: --address A [--port P] [--cluster C] [--agent type=ipmilan,address=…,username=…,password-ref=NAME,order=1,option=lanplus=1 …] [--ssh-user U --ssh-port P --ssh-host-key SHA256:… --ssh-key-ref NAME] [--storage-host-id DOMAIN=ID …] [--proxy-preference cluster,dc]',
    run: async (ctx) => {
      const host = hostFromFlags(ctx.args[0]!, ctx.values);
      return change(ctx, ctx.client.post('/hosts', { ...host, by: caller(ctx.values, ctx.env) }));
    },
  },
  {
    words: ['host', 'remove'],
    args: ['HOST'],
    options: ['json', 'by'],
    summary: 'remove a host (it must be in maintenance with no VM)',
    run: async (ctx) => {
      const id = arg(hostId, ctx.args[0]!, 'HOST');
      const q = new URLSearchParams({ by: caller(ctx.values, ctx.env) });
      return change(ctx, ctx.client.delete(`/hosts/${seg(id)}?${q}`));
    },
  },
  {
    words: ['host', 'maintenance'],
    args: ['HOST'],
    options: ['json', 'by', 'keep-vms'],
    summary: 'out of fencing and placement, VMs moved away, HA local maintenance on (--keep-vms: refuse instead)',
    run: async (ctx) => {
      const id = arg(hostId, ctx.args[0]!, 'HOST');
      const body = { on: true, keepVms: ctx.values['keep-vms'] === true, by: caller(ctx.values, ctx.env) };
      return change(ctx, ctx.client.post(`/hosts/${seg(id)}/maintenance`, body));
    },
  },
  {
    words: ['host', 'activate'],
    args: ['HOST'],
    options: ['json', 'by'],
    summary: 'out of maintenance (and out of HA local maintenance)',
    run: async (ctx) => {
      const id = arg(hostId, ctx.args[0]!, 'HOST');
      const body = { on: false, by: caller(ctx.values, ctx.env) };
      return change(ctx, ctx.client.post(`/hosts/${seg(id)}/maintenance`, body));
    },
  },
  {
    words: ['ha', 'global-maintenance'],
    args: ['on|off'],
    options: ['json', 'by'],
    summary: 'hosted-engine global maintenance on or off (through an Up host that runs HA)',
    run: async (ctx) => {
      const body = { on: onOff(ctx.args[0]!), by: caller(ctx.values, ctx.env) };
      return change(ctx, ctx.client.post('/ha/global-maintenance', body));
    },
  },
  {
    words: ['vm', 'define'],
    args: [],
    options: ['json', 'by', 'xml', 'ha', 'priority'],
    summary: 'define a VM: --xml FILE (libvirt domain XML) [--ha] [--priority 0..100]',
    run: async (ctx) => {
      const file = ctx.values.xml;
      if (file === undefined) throw usage('vm define needs --xml FILE');
      let xml: string;
      try {
        xml = readFileSync(file, 'utf8');
      } catch (err) {
        throw usage(`cannot read --xml ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const priority = number(ctx.values.priority, '--priority');
      if (priority !== undefined && priority > 100) throw usage('--priority must be from 0 to 100');
      const body = {
        xml,
        ha: ctx.values.ha === true,
        ...(priority === undefined ? {} : { priority }),
        by: caller(ctx.values, ctx.env),
      };
      return change(ctx, ctx.client.post('/vms', body));
    },
  },
  {
    words: ['vm', 'start'],
    args: ['VM'],
    options: ['json', 'by', 'host'],
    summary: 'start a VM, placed by the coordinator or on --host H',
    run: async (ctx) => {
      const id = arg(vmRef, ctx.args[0]!, 'VM');
      const host = ctx.values.host === undefined ? undefined : arg(hostId, ctx.values.host, '--host');
      const body = { ...(host === undefined ? {} : { host }), by: caller(ctx.values, ctx.env) };
      return change(ctx, ctx.client.post(`/vms/${seg(id)}/start`, body));
    },
  },
  {
    words: ['vm', 'stop'],
    args: ['VM'],
    options: ['json', 'by'],
    summary: 'shut a VM down cleanly',
    run: async (ctx) => {
      const id = arg(vmRef, ctx.args[0]!, 'VM');
      return change(ctx, ctx.client.post(`/vms/${seg(id)}/stop`, { by: caller(ctx.values, ctx.env) }));
    },
  },
  {
    words: ['vm', 'remove'],
    args: ['VM'],
    options: ['json', 'by'],
    summary: 'remove a stopped VM',
    run: async (ctx) => {
      const id = arg(vmRef, ctx.args[0]!, 'VM');
      const q = new URLSearchParams({ by: caller(ctx.values, ctx.env) });
      return change(ctx, ctx.client.delete(`/vms/${seg(id)}?${q}`));
    },
  },
  {
    words: ['confirm-rebooted'],
    args: ['HOST'],
    options: ['json', 'by', 'yes'],
    summary:
      'a person confirms HOST was rebooted or is off: its VMs restart elsewhere (needs --yes; recorded with --by, else $SUDO_USER or $USER)',
    run: async (ctx) => {
      const id = arg(hostId, ctx.args[0]!, 'HOST');
      const who = caller(ctx.values, ctx.env);
      ctx.err(CONFIRM_WARNING(id));
      if (!ctx.values.yes) {
        ctx.err(`Not confirmed: run again with --yes once you know ${id} is off or was rebooted.`);
        return 1;
      }
      return change(ctx, ctx.client.post(`/hosts/${seg(id)}/confirm-rebooted`, { by: who }));
    },
  },
];
