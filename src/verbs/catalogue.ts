import type { Verb } from './define.js';
import fenceNode from './host/fenceNode.js';
import getCapabilities from './host/getCapabilities.js';
import getHardwareInfo from './host/getHardwareInfo.js';
import getStats from './host/getStats.js';
import ping2 from './host/ping2.js';
import setHaMaintenanceMode from './host/setHaMaintenanceMode.js';

/** Every verb vdsmd serves. The one source for dispatch, validation, `vdsm-client` help and docs/api.md. */
export const VERBS: readonly Verb[] = [ping2, getCapabilities, getHardwareInfo, getStats, setHaMaintenanceMode, fenceNode] as unknown as Verb[];

export function findVerb(name: string): Verb | undefined {
  return VERBS.find((v) => v.name === name);
}
