import type { OptionSpec } from './options.js';

export type Power = 'on' | 'off';

/** Parsed, validated options: values by key; flags are booleans. */
export type FenceOptions = Record<string, string | boolean | undefined>;

export interface PlugInfo {
  plug: string;
  alias: string;
  /** As the device reports it (`On`, `off`, ...); printed only by list-status. */
  state?: string;
}

/** A name the agent answers to (argv[0] or Host.fenceNode's agent), with its own defaults. */
export interface AgentAlias {
  name: string;
  shortdesc: string;
  defaults?: Record<string, string>;
}

/**
 * A fence agent plugin declares only what is its own: its options and how to reach the device.
 * Parsing, validation, sequencing, retries, waits, metadata, messages and exit codes live in the framework.
 */
export interface FenceAgent<C = unknown> {
  name: string;
  shortdesc: string;
  longdesc: string;
  vendorUrl?: string;
  /** Other names (symlinks upstream) with their own defaults, e.g. fence_ilo4 = ipmilan with lanplus. */
  aliases?: AgentAlias[];
  /** Optional common options this agent takes, by key (`ipaddr`, `login`, `passwd`, `port`, `method`, ...). */
  uses: string[];
  /** Options of this agent only. */
  options?: OptionSpec[];
  /** Overrides of common defaults (e.g. ipport 623, power_wait 2). */
  defaults?: Record<string, string>;
  /** Login or password are not required (e.g. IPMI may run anonymous). */
  loginOptional?: boolean;
  passwordOptional?: boolean;
  /** The plug may be left out on some models (a single-server DRAC 5); the agent then gets `undefined`. */
  plugOptional?: boolean;
  connect(opts: FenceOptions): Promise<C>;
  /** The power state of the plug (or of the whole device for single-plug agents), or anything else for "unknown". */
  getPower(conn: C, plug: string | undefined, opts: FenceOptions): Promise<Power | string>;
  setPower(conn: C, plug: string | undefined, want: Power, opts: FenceOptions): Promise<void>;
  /** One power cycle (method=cycle); returns whether the device accepted it. */
  cycle?(conn: C, plug: string | undefined, opts: FenceOptions): Promise<boolean>;
  /** A diagnostic interrupt (`-o diag`); returns whether the device accepted it. */
  diag?(conn: C, plug: string | undefined, opts: FenceOptions): Promise<boolean>;
  /** The plugs, or a device's own one-line answer printed as is (a single-server DRAC 5 says `N/A`). */
  list?(conn: C, opts: FenceOptions): Promise<PlugInfo[] | string>;
  disconnect?(conn: C): Promise<void>;
}

export function defineAgent<C>(agent: FenceAgent<C>): FenceAgent<C> {
  return agent;
}

/** A failure with the text the admin sees after "Failed: " or as the error line. */
export class FenceError extends Error {
  override name = 'FenceError';
}
