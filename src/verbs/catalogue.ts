import type { Verb } from './define.js';
import fenceNode from './host/fenceNode.js';
import getCapabilities from './host/getCapabilities.js';
import getHardwareInfo from './host/getHardwareInfo.js';
import getStats from './host/getStats.js';
import ping2 from './host/ping2.js';
import probePeer from './host/probePeer.js';
import getAllVmStats from './host/getAllVmStats.js';
import getVMList from './host/getVMList.js';
import setHaMaintenanceMode from './host/setHaMaintenanceMode.js';
import cont from './vm/cont.js';
import create from './vm/create.js';
import destroy from './vm/destroy.js';
import pause from './vm/pause.js';
import shutdown from './vm/shutdown.js';
import vmGetStats from './vm/getStats.js';

/** Every verb vdsmd serves. The one source for dispatch, validation, `vdsm-client` help and docs/api.md. */
export const VERBS: readonly Verb[] = [
  ping2,
  getCapabilities,
  getHardwareInfo,
  getStats,
  getAllVmStats,
  getVMList,
  setHaMaintenanceMode,
  fenceNode,
  probePeer,
  create,
  destroy,
  shutdown,
  pause,
  cont,
  vmGetStats,
];
