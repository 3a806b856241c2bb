import type { ToolContext } from '../context.js';

/** One thing `vdsm-tool configure` sets up for vdsmd (upstream's "configurators"). */
export interface ToolModule {
  name: string;
  /** Other names `--module` accepts for it. */
  aliases?: readonly string[];
  /**
   * systemd units that read what this module writes only when they start: while one is active, configure refuses
   * without --force, and with --force restarts it afterwards (in this order).
   */
  services: readonly string[];
  /** What is not configured, in words for the admin; [] when the module is configured. */
  check(ctx: ToolContext): Promise<string[]>;
  /** Makes check() come out empty where the tool can; returns what it did, line by line. */
  configure(ctx: ToolContext): Promise<string[]>;
  /** Takes back what configure wrote where that is safe; returns what it did. */
  remove(ctx: ToolContext): Promise<string[]>;
}
