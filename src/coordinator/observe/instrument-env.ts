/**
 * The Env with its calls counted: leadership (gauge and epoch), every power action through a proxy and every
 * SSH restart (by kind and outcome). A Proxy rather than a wrapper class, so every other call of the Env, present
 * or added later, passes through untouched.
 */
import type { CoordinatorEnv } from '../core/env.js';
import type { CoordinatorMetrics } from './metrics.js';

export function instrumentEnv(env: CoordinatorEnv, metrics: CoordinatorMetrics): CoordinatorEnv {
  const leadership: CoordinatorEnv['leadership'] = async () => {
    try {
      const lead = await env.leadership();
      metrics.recordLeadership(lead);
      return lead;
    } catch (err) {
      metrics.recordLeadership(null);
      throw err;
    }
  };
  const fence: CoordinatorEnv['fence'] = async (proxy, target, agent, op, epoch) => {
    try {
      const power = await env.fence(proxy, target, agent, op, epoch);
      metrics.recordFence(op, power);
      return power;
    } catch (err) {
      metrics.recordFence(op, 'error');
      throw err;
    }
  };
  const sshRestart: CoordinatorEnv['sshRestart'] = async (host) => {
    try {
      const r = await env.sshRestart(host);
      metrics.recordFence('ssh', r.ok ? 'ok' : 'failed');
      return r;
    } catch (err) {
      metrics.recordFence('ssh', 'error');
      throw err;
    }
  };
  const counted: Partial<CoordinatorEnv> = { leadership, fence, sshRestart };
  return new Proxy(env, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in counted) return counted[prop as keyof CoordinatorEnv];
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
