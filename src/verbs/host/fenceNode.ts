import { z } from 'zod';
import { runAgent } from '../../plugins/fence/run.js';
import { defineVerb } from '../define.js';
import { VdsmError } from '../errors.js';

/** The engine sends several fields as strings ("" when unset); accept what it sends. */
const text = z.union([z.string(), z.number()]).transform(String);

export default defineVerb({
  name: 'Host.fenceNode',
  description:
    "Acts as a fence proxy: runs one of this host's fence agents in process against another host's power " +
    'device. status answers {power}; on/off/reboot answer once the agent has confirmed the new state.',
  params: z.object({
    addr: z.string().describe('address of the fence device'),
    port: text.optional().describe('plug or port on the device ("" when none)'),
    agent: z.string().describe('agent name without the fence_ prefix, e.g. ipmilan, ilo4, apc_snmp'),
    username: z.string().default(''),
    password: z.string().default(''),
    action: z.enum(['status', 'on', 'off', 'reboot']),
    secure: z.union([z.boolean(), z.string()]).optional().describe('use ssh (true, "true" or "yes")'),
    options: z.string().default('').describe("more agent options, newline-separated key=value lines (the engine's form)"),
    policy: z.record(z.string(), z.unknown()).optional().describe('fencing policy; accepted, not evaluated yet (no storage monitoring)'),
  }),
  result: z.union([
    z.object({ power: z.enum(['on', 'off']) }),
    z.object({ power: z.literal('unknown'), operationStatus: z.literal('initiated') }),
  ]),
  handler: async (p, ctx) => {
    // vdsm puts the agent name into a path unchecked; only names of loaded plugins run here.
    const name = `fence_${p.agent}`;
    const agent = /^[a-z0-9_]+$/.test(p.agent) ? ctx.fence?.agents.get(name) : undefined;
    if (!agent) throw VdsmError.of('fenceAgent', { agent: p.agent.slice(0, 64) });
    // Options travel as the stdin lines vdsm writes for the agent; no process and no shell involved.
    const stdin = [`ipaddr=${p.addr}`, `login=${p.username}`, `action=${p.action}`, `passwd=${p.password}`];
    if (p.port) stdin.push(`port=${p.port}`);
    if (p.secure === true || (typeof p.secure === 'string' && /^(true|yes|1|on)$/i.test(p.secure))) stdin.push('secure=yes');
    stdin.push(p.options);
    const out: string[] = [];
    const code = await runAgent(agent, { name, argv: [], stdin: stdin.join('\n'), env: {} }, { out: (l) => out.push(l + '\n'), err: (t) => out.push(t) });
    const message = out.join('').trim();
    if (p.action === 'status') {
      if (code === 0) return { power: 'on' as const };
      if (code === 2) return { power: 'off' as const };
      throw new VdsmError(1, message);
    }
    if (code === 0) return { power: 'unknown' as const, operationStatus: 'initiated' as const };
    throw new VdsmError(code === 2 ? 2 : 1, message);
  },
});
