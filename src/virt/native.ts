import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { DomainInfo, DomainStatsRecord, DomainSummary, LifecycleEvent } from './hypervisor.js';

/** What our addon (src/virt/native/binding.cc) hands to JavaScript: the Hypervisor's own shapes. */
export interface NativeConnection {
  close(): Promise<void>;
  listDomains(): Promise<DomainSummary[]>;
  lookup(uuid: string): Promise<DomainSummary>;
  xml(uuid: string, flags: number): Promise<string>;
  define(xml: string): Promise<DomainSummary>;
  undefine(uuid: string, flags: number): Promise<void>;
  createXml(xml: string, flags: number): Promise<DomainSummary>;
  start(uuid: string, flags: number): Promise<void>;
  destroy(uuid: string, flags: number): Promise<void>;
  shutdown(uuid: string, flags: number): Promise<void>;
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;
  info(uuid: string): Promise<DomainInfo>;
  allDomainStats(statsMask: number, flags: number): Promise<DomainStatsRecord[]>;
}

export interface NativeLibvirt {
  /**
   * Opens a connection with keepalive (5 s × 3) and both callbacks registered, all off the JS thread.
   * onClose gets libvirt's virConnectCloseReason when the connection drops.
   */
  open(
    uri: string,
    onLifecycle: (event: LifecycleEvent) => void,
    onClose: (reason: number) => void,
  ): Promise<NativeConnection>;
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
