import { z } from 'zod';
import type { Logger } from 'pino';
import { runAgent } from '../../plugins/fence/run.js';
import { hostLeaseStatus } from '../../storage/host-lease.js';
import { defineVerb } from '../define.js';
import { VdsmError } from '../../common/errors.js';
import { intParam } from '../params.js';
import type { VerbContext } from '../context.js';

/** The engine sends several fields as strings ("" when unset); accept what it sends. */
const text = z.union([z.string(), z.number()]).transform(String);

/** A sanlock host id (vdsm-api.yml HostIdMap: int). */
const hostId = intParam((n) => n.min(1).max(2000));

/** vdsm-api.yml FencingPolicy. Keys we do not know are kept and ignored, as vdsm does. */
const fencingPolicy = z.looseObject({
  storageDomainHostIdMap: z
    .record(z.string(), hostId)
    .nullish()
    .describe(
      "{<storage domain UUID = sanlock lockspace name>: <the target's host id in it>}; skip on/off/reboot if the target's lease is live in any",
    ),
  skipFencingIfGlusterBricksUp: z
    .union([z.boolean(), z.string()])
    .optional()
    .describe('not evaluated (no gluster support): fencing goes ahead'),
  skipFencingIfGlusterQuorumNotMet: z
    .union([z.boolean(), z.string()])
    .optional()
    .describe('not evaluated (no gluster support): fencing goes ahead'),
  glusterServerUuid: z.string().optional(),
});
type FencingPolicy = z.output<typeof fencingPolicy>;

/**
 * vdsm's skipFencingIfSDActive (lib/vdsm/API.py fenceNode, should_fence): true when the target's host-id lease
 * is LIVE in at least one of the given lockspaces, as this host's sanlock daemon sees it. Everything short of
 * that means "fence", as upstream: no policy or no/empty map; a lockspace this host has not joined (vdsm has no
 * monitor for that domain and reports it "unavailable"); sanlock failing (vdsm turns a failed query into
 * "unavailable" per domain, and a failed lookup as a whole into a logged error, and fences in both cases); and
 * the states unknown, fail, dead and free.
 */
async function targetLeaseIsLive(policy: FencingPolicy | null | undefined, log: Logger): Promise<boolean> {
  const on = (v: boolean | string | undefined) => v === true || (typeof v === 'string' && /^(true|yes|1)$/i.test(v));
  if (on(policy?.skipFencingIfGlusterBricksUp) || on(policy?.skipFencingIfGlusterQuorumNotMet)) {
    // vdsm without vdsm-gluster logs an error and fences; we have no gluster support at all.
    log.warn('fencing policy: gluster conditions are not evaluated on this host');
  }
  const map = policy?.storageDomainHostIdMap;
  if (!map || Object.keys(map).length === 0) return false;
  const report = await hostLeaseStatus(map);
  if (report.error)
    log.error({ error: report.error }, 'fencing policy: cannot read host lease status from sanlock; fencing');
  const live = Object.keys(report.domains).filter((sd) => report.domains[sd] === 'live');
  log.info(
    { domains: report.domains },
    live.length > 0
      ? 'fencing policy: target has a live host-id lease; skipping'
      : 'fencing policy: no live host-id lease',
  );
  return live.length > 0;
}

const fenceParams = z.object({
  addr: z.string().describe('address of the fence device'),
  port: text.optional().describe('plug or port on the device ("" when none)'),
  agent: z.string().describe('agent name without the fence_ prefix, e.g. ipmilan, ilo4, apc_snmp'),
  username: z.string().default(''),
  password: z.string().default(''),
  action: z.enum(['status', 'on', 'off', 'reboot']),
  secure: z.union([z.boolean(), z.string()]).optional().describe('use ssh (true, "true" or "yes")'),
  options: z.string().default('').describe("more agent options, newline-separated key=value lines (the engine's form)"),
  policy: fencingPolicy.nullish().describe('fencing policy (vdsm FencingPolicy); never affects status'),
});

const fenceAnswer = z.union([
  z.object({ power: z.enum(['on', 'off']) }),
  z.object({ power: z.literal('unknown'), operationStatus: z.literal('initiated') }),
  // vdsm's bridge drops the absent power: the engine gets operationStatus alone.
  z.object({ operationStatus: z.literal('skipped') }),
]);
type FenceParams = z.output<typeof fenceParams>;
type FenceAnswer = z.input<typeof fenceAnswer>;

/** vdsm puts the agent name into a path unchecked; only names of loaded plugins run here. */
function loadedAgent(p: FenceParams, ctx: VerbContext) {
  return /^[a-z0-9_]+$/.test(p.agent) ? ctx.fence?.agents.get(`fence_${p.agent}`) : undefined;
}

async function runFence(p: FenceParams, ctx: VerbContext, agent: ReturnType<typeof loadedAgent>): Promise<FenceAnswer> {
  // As vdsm, the policy comes first (nothing runs when it says skip) and never applies to status.
  if (p.action !== 'status' && (await targetLeaseIsLive(p.policy, ctx.log)))
    return { operationStatus: 'skipped' as const };
  if (!agent) throw VdsmError.of('fenceAgent', { agent: p.agent.slice(0, 64) });
  const name = `fence_${p.agent}`;
  // Options travel as the stdin lines vdsm writes for the agent; no process and no shell involved.
  const stdin = [`ipaddr=${p.addr}`, `login=${p.username}`, `action=${p.action}`, `passwd=${p.password}`];
  if (p.port) stdin.push(`port=${p.port}`);
  if (p.secure === true || (typeof p.secure === 'string' && /^(true|yes|1|on)$/i.test(p.secure)))
    stdin.push('secure=yes');
  stdin.push(p.options);
  const out: string[] = [];
  const code = await runAgent(
    agent,
    { name, argv: [], stdin: stdin.join('\n'), env: {} },
    // The device dialogue (masked) goes to vdsmd's debug log; errors stay in the answer's message.
    { out: (l) => out.push(l + '\n'), err: (t) => out.push(t), debug: (m) => ctx.log.debug({ agent: name }, m) },
  );
  const message = out.join('').trim();
  if (p.action === 'status') {
    if (code === 0) return { power: 'on' as const };
    if (code === 2) return { power: 'off' as const };
    throw new VdsmError(1, message);
  }
  if (code === 0) return { power: 'unknown' as const, operationStatus: 'initiated' as const };
  throw new VdsmError(code === 2 ? 2 : 1, message);
}

/** What the fence counter records: the power read, the action initiated, or skipped by the policy. */
function outcomeOf(answer: FenceAnswer): string {
  if ('operationStatus' in answer && answer.operationStatus === 'skipped') return 'skipped';
  return answer.power === 'unknown' ? 'initiated' : answer.power;
}

export default defineVerb({
  name: 'Host.fenceNode',
  description:
    "Acts as a fence proxy: runs one of this host's fence agents in process against another host's power " +
    'device. status answers {power}; on/off/reboot answer once the agent has confirmed the new state, or ' +
    '{operationStatus: "skipped"} without touching the power when policy.storageDomainHostIdMap names a lockspace ' +
    "where sanlock sees the target's host-id lease live.",
  params: fenceParams,
  result: fenceAnswer,
  handler: async (p, ctx) => {
    // Counted by agent only when it is one of ours: the engine's agent names must not grow the label set.
    const agent = loadedAgent(p, ctx);
    const label = agent ? p.agent : 'unknown';
    try {
      const answer = await runFence(p, ctx, agent);
      ctx.onFenceAction?.(label, p.action, outcomeOf(answer));
      return answer;
    } catch (err) {
      ctx.onFenceAction?.(label, p.action, agent ? 'failed' : 'no_agent');
      throw err;
    }
  },
});
