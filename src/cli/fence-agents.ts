import fenceApc from '../../plugins/fence_apc/index.js';
import fenceApcSnmp from '../../plugins/fence_apc_snmp/index.js';
import fenceDrac5 from '../../plugins/fence_drac5/index.js';
import fenceIlo2 from '../../plugins/fence_ilo2/index.js';
import fenceIpmilan from '../../plugins/fence_ipmilan/index.js';
import type { FenceAgent } from '../plugins/fence/agent.js';

/** The fence agents that ship with vdsm-ts, for Host.fenceNode (each standalone executable imports only its own). */
export const BUILTIN_FENCE_AGENTS: readonly FenceAgent<unknown>[] = [
  fenceIpmilan,
  fenceIlo2,
  fenceApcSnmp,
  fenceDrac5,
  fenceApc,
];
