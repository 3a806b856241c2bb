import { setTimeout as sleep } from 'node:timers/promises';
import { type FenceAgent, FenceError, type FenceOptions, type Power } from './agent.js';
import type { FenceLog } from './io.js';
import type { AgentTable } from './table.js';
import { ms, num } from './validate.js';

/** Time as --delay sees it. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
export const systemClock: Clock = { now: () => Date.now(), sleep: (t) => sleep(t) };

export interface ActionContext {
  agent: FenceAgent<unknown>;
  table: AgentTable;
  options: FenceOptions;
  log: FenceLog;
  out(line: string): void;
  /** When the run started (ms since the epoch); --delay counts from here. */
  startedAt?: number;
  clock?: Clock;
}

/**
 * --delay: an off or a reboot (fencing proper) does not reach the device before `delay` seconds have passed since
 * the agent started, so that of two nodes fencing each other the one without a delay wins; nothing else waits
 * (status, monitor, list, on). Upstream counts from its start as well, and waits one second more than asked.
 */
async function delayFencing(action: string, ctx: ActionContext): Promise<void> {
  if ((action !== 'off' && action !== 'reboot') || num(ctx.options, 'delay') <= 0) return;
  const clock = ctx.clock ?? systemClock;
  const left = ms(ctx.options, 'delay') - (clock.now() - (ctx.startedAt ?? clock.now()));
  if (left <= 0) return;
  ctx.log.info(`Delay ${Math.ceil(left / 1000)} second(s) before logging in to the fence device`);
  await clock.sleep(left);
}

/**
 * Runs one device action with ClusterLabs' sequencing: status before any change, "Already" short-circuits,
 * power_wait after each command, polling until the state is confirmed or power_timeout passes, retry_on for
 * power on, reboot = off (must be confirmed) then on. Returns the exit code.
 */
export async function performAction(action: string, ctx: ActionContext): Promise<number> {
  const { agent, options } = ctx;
  await delayFencing(action, ctx);
  let conn: unknown;
  try {
    conn = await agent.connect(options);
  } catch (err) {
    ctx.log.debug(`connect: ${(err as Error).message}`);
    throw err instanceof FenceError ? err : new FenceError('Unable to connect/login to fencing device');
  }
  try {
    return await new Session(ctx, conn).run(action);
  } finally {
    await agent.disconnect?.(conn).catch(() => {});
  }
}

class Session {
  private readonly plugs: (string | undefined)[];

  constructor(
    private readonly ctx: ActionContext,
    private readonly conn: unknown,
  ) {
    const port = ctx.options.port;
    const separator = String(ctx.options.plug_separator ?? ',');
    this.plugs = ctx.table.hasPort && typeof port === 'string' && port !== '' ? port.split(separator) : [undefined];
  }

  async run(action: string): Promise<number> {
    const { ctx } = this;
    switch (action) {
      case 'status': {
        const state = await this.status();
        ctx.out(`Status: ${state.toUpperCase()}`);
        return state === 'on' ? 0 : 2;
      }
      case 'monitor':
        if (ctx.table.hasPort && ctx.agent.list) {
          const answer = await ctx.agent.list(this.conn, ctx.options);
          if (typeof answer === 'string') ctx.out(answer);
        } else await this.status();
        return 0;
      case 'list':
      case 'list-status':
        return this.list(action === 'list-status');
      case 'on':
      case 'off':
        return this.onOff(action);
      case 'reboot':
        return this.reboot();
      case 'diag':
        return this.oneShot((plug) => ctx.agent.diag!(this.conn, plug, ctx.options), 'Success: Diag');
      default:
        throw new FenceError(`Unrecognised action '${action}'`);
    }
  }

  /** "on" when any plug is on, "off" when all are off; anything else fails, as upstream. */
  private async status(): Promise<Power> {
    let any: Power = 'off';
    for (const plug of this.plugs) {
      const state = String(await this.ctx.agent.getPower(this.conn, plug, this.ctx.options)).toLowerCase();
      if (state !== 'on' && state !== 'off')
        throw new FenceError('Failed: Unable to obtain correct plug status or plug is not available');
      if (state === 'on') any = 'on';
    }
    return any;
  }

  private async list(withState: boolean): Promise<number> {
    const { ctx } = this;
    if (!ctx.agent.list) {
      ctx.out('NOTICE: List option is not working on this device yet');
      return 0;
    }
    const sep = String(ctx.options.separator ?? ',');
    const answer = await ctx.agent.list(this.conn, ctx.options);
    if (typeof answer === 'string') {
      ctx.out(answer);
      return 0;
    }
    for (const p of answer) {
      const state = p.state && ['on', 'off'].includes(p.state.toLowerCase()) ? p.state : 'UNKNOWN';
      ctx.out(withState ? `${p.plug}${sep}${p.alias}${sep}${state}` : `${p.plug}${sep}${p.alias}`);
    }
    return 0;
  }

  private async onOff(target: Power): Promise<number> {
    const label = target.toUpperCase();
    if ((await this.status()) === target) {
      this.ctx.out(`Success: Already ${label}`);
      return 0;
    }
    const attempts = target === 'on' ? 1 + num(this.ctx.options, 'retry_on') : 1;
    if (!(await this.setAndConfirm(target, attempts)))
      throw new FenceError(`Failed: Timed out waiting to power ${label}`);
    this.ctx.out(`Success: Powered ${label}`);
    return 0;
  }

  private async reboot(): Promise<number> {
    const { ctx } = this;
    if (ctx.options.method === 'cycle' && ctx.agent.cycle) {
      // Upstream reports a cycle as done once the device accepts it. We also wait until the host reads as on
      // again, so "Rebooted" at least means the device acted and answers (a cycle cannot prove the off half).
      return this.oneShot((plug) => ctx.agent.cycle!(this.conn, plug, ctx.options), 'Success: Rebooted', 'on');
    }
    if ((await this.status()) !== 'off' && !(await this.setAndConfirm('off', 1))) {
      throw new FenceError('Failed: Timed out waiting to power OFF');
    }
    // Only the off half decides a reboot's success (the fence API's rule); a failed on is logged.
    const retries = num(ctx.options, 'retry_on');
    if (retries < 1 || !(await this.setAndConfirm('on', retries))) ctx.log.error('Timed out waiting to power ON');
    ctx.out('Success: Rebooted');
    return 0;
  }

  private async oneShot(
    command: (plug: string | undefined) => Promise<boolean>,
    success: string,
    confirm?: Power,
  ): Promise<number> {
    const attempts = 1 + num(this.ctx.options, 'retry_on');
    for (let i = 0; i < attempts; i++) {
      let accepted = true;
      for (const plug of this.plugs) accepted = (await command(plug)) && accepted;
      await this.powerWait();
      if (accepted && (!confirm || (await this.waitFor(confirm)))) {
        this.ctx.out(success);
        return 0;
      }
    }
    throw new FenceError('Connection timed out');
  }

  private async setAndConfirm(target: Power, attempts: number): Promise<boolean> {
    for (let i = 0; i < attempts; i++) {
      for (const plug of this.plugs) {
        await this.ctx.agent.setPower(this.conn, plug, target, this.ctx.options);
        await this.powerWait();
      }
      if (await this.waitFor(target)) return true;
    }
    return false;
  }

  private powerWait(): Promise<void> {
    const wait = ms(this.ctx.options, 'power_wait');
    return wait > 0 ? sleep(wait) : Promise.resolve();
  }

  /** Polls until every plug reads `target`, for at most power_timeout seconds (0 = no limit, the caller's). */
  private async waitFor(target: Power): Promise<boolean> {
    const timeout = ms(this.ctx.options, 'power_timeout');
    const deadline = timeout > 0 ? Date.now() + timeout : Number.POSITIVE_INFINITY;
    const pause = ms(this.ctx.options, 'stonith_status_sleep');
    for (;;) {
      let state: Power | null;
      try {
        state = await this.status();
      } catch (err) {
        this.ctx.log.debug(`status read failed while waiting: ${(err as Error).message}`);
        state = null;
      }
      if (state === target) return true;
      if (Date.now() + pause >= deadline) return false;
      await sleep(pause);
    }
  }
}
