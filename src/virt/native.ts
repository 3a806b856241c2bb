import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shapes our addon (src/virt/native/binding.cc) hands to JavaScript. */
export interface NativeDomainSummary {
  uuid: string;
  name: string;
  /** libvirt's run-time id; -1 when the domain is not running. */
  id: number;
  state: number;
  reason: number;
  persistent: boolean;
}

export interface NativeDomainInfo {
  state: number;
  maxMemKiB: number;
  memoryKiB: number;
  vcpus: number;
  cpuTimeNs: number;
}

export interface NativeDomainStats {
  uuid: string;
  name: string;
  /** libvirt's flat typed parameters, e.g. `cpu.time`, `balloon.current`, `net.0.rx.bytes`. */
  stats: Record<string, number | string>;
}

export interface NativeLifecycleEvent {
  uuid: string;
  name: string;
  event: number;
  detail: number;
  /** CLOCK_MONOTONIC milliseconds when libvirt called us (the clock of process.hrtime). */
  at: number;
}

export interface NativeConnection {
  close(): Promise<void>;
  listDomains(): Promise<NativeDomainSummary[]>;
  lookup(uuid: string): Promise<NativeDomainSummary>;
  xml(uuid: string, flags: number): Promise<string>;
  define(xml: string): Promise<NativeDomainSummary>;
  undefine(uuid: string, flags: number): Promise<void>;
  createXml(xml: string, flags: number): Promise<NativeDomainSummary>;
  start(uuid: string, flags: number): Promise<void>;
  destroy(uuid: string, flags: number): Promise<void>;
  shutdown(uuid: string, flags: number): Promise<void>;
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;
  info(uuid: string): Promise<NativeDomainInfo>;
  allDomainStats(statsMask: number, flags: number): Promise<NativeDomainStats[]>;
}

export interface NativeLibvirt {
  /**
   * Opens a connection with keepalive (5 s × 3) and both callbacks registered, all off the JS thread.
   * onClose gets libvirt's virConnectCloseReason when the connection drops.
   */
  open(uri: string, onLifecycle: (event: NativeLifecycleEvent) => void, onClose: (reason: number) => void): Promise<NativeConnection>;
  /** libvirt's version as major * 1,000,000 + minor * 1,000 + release. */
  libvirtVersion(): number;
  monotonicMs(): number;
}

const ADDON = 'build/Release/vdsm_libvirt.node';

/** Finds the addon: $VDSM_TS_LIBVIRT_ADDON, else build/Release above this module (src/virt/ or dist/). */
export function addonPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VDSM_TS_LIBVIRT_ADDON) return env.VDSM_TS_LIBVIRT_ADDON;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`the libvirt addon ${ADDON} is not built; run: bash scripts/build-native.sh`);
}

let loaded: NativeLibvirt | undefined;

export function nativeLibvirt(): NativeLibvirt {
  loaded ??= createRequire(import.meta.url)(addonPath()) as NativeLibvirt;
  return loaded;
}
