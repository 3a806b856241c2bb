import { z } from 'zod';
import { defineMethod } from './define.js';
import { brokerStatus, hostId, leaseHolder, whiteboardSnapshot, writableHostBlock } from './schemas.js';

const none = z.object({});
const done = z.literal(true);

/**
 * Every method the HA broker serves on its local socket: the one source for the server's dispatch and
 * validation, the typed client (`brokerClient`) and docs/hosted-engine.md. The names are the wire's since the
 * first broker: a newer CLI must still reach a broker that runs on from before an upgrade.
 */
export const BROKER_METHODS = {
  status: defineMethod({
    description:
      "Everything the CLI and vdsmd show, from the local agent's point of view: the whiteboard, the monitors' readings, the maintenance flags, the lockspace.",
    params: none,
    result: brokerStatus,
  }),
  whiteboard: defineMethod({
    description:
      'The shared whiteboard: global maintenance, every valid host block, and the slots that could not be read.',
    params: none,
    result: whiteboardSnapshot,
  }),
  pulse: defineMethod({
    description:
      "A short string that changes when the engine VM's state changes here or in any host's block, or global maintenance does: it wakes the agent between ticks.",
    params: none,
    result: z.string(),
  }),
  putHost: defineMethod({
    description: "Writes this host's block on the whiteboard (slot = host id).",
    params: z.object({ block: writableHostBlock }),
    result: done,
    refuses: ['notOwnSlot'],
  }),
  pushAlive: defineMethod({
    description: "The local agent's list of hosts it judges alive (itself included), shown by `status` for 60 s.",
    params: z.object({ ids: z.array(z.number().int()) }),
    result: done,
  }),
  localMaintenance: defineMethod({
    description: 'Whether local maintenance is set here, by vdsmd or by the CLI.',
    params: none,
    result: z.boolean(),
  }),
  setMaintenance: defineMethod({
    description:
      "Sets or clears a maintenance flag: global (on the whiteboard, every host), local (vdsmd's) or local_manual (the CLI's); as upstream, the two local flags are kept apart.",
    params: z.object({ mode: z.enum(['global', 'local', 'local_manual']), enabled: z.boolean() }),
    result: done,
  }),
  leaseAcquire: defineMethod({
    description:
      'Whether this host may start the engine VM: the lease is free, ours, or its holder dead. The file lock takes the lease for this host when it says yes; with sanlock this only reads who holds it (libvirt takes it when QEMU starts).',
    params: none,
    result: z.boolean(),
  }),
  leaseRenew: defineMethod({
    description:
      'Whether this host holds the engine VM lease now. The file lock extends the hold as it answers; with sanlock this reads the lease on storage.',
    params: none,
    result: z.boolean(),
  }),
  leaseRelease: defineMethod({
    description:
      "The engine VM stopped here: the file lock gives this host's lease up; with sanlock there is nothing to do (the lease went with QEMU).",
    params: none,
    result: done,
  }),
  leaseHolder: defineMethod({
    description:
      "Who holds the engine VM lease, with the holder's sanlock host state; null when nobody does or its holder is dead.",
    params: none,
    result: leaseHolder.nullable(),
  }),
  leaseXml: defineMethod({
    description:
      "The `<lease>` device for the engine VM's domain XML, through which libvirt takes the lease for QEMU; null with the file lock.",
    params: none,
    result: z.string().nullable(),
  }),
  clearHost: defineMethod({
    description:
      "`--clean-metadata`: empties a host's whiteboard slot. Unless forced, only when that host does not hold the engine VM lease and its block is from a clean stop; never while sanlock sees the host LIVE or FAIL.",
    params: z.object({ hostId, force: z.boolean() }),
    result: done,
    refuses: ['leaseHeld', 'hostAlive', 'uncleanBlock'],
  }),
  resetLease: defineMethod({
    description:
      '`--reinitialize-lockspace`: writes a fresh lockspace and engine VM lease, freeing every host id. Unless forced, only in global maintenance, with every agent stopped and the lease not held.',
    params: z.object({ force: z.boolean() }),
    result: done,
    refuses: ['notInGlobalMaintenance', 'agentActive', 'leaseHeld'],
  }),
} as const;

export type BrokerMethods = typeof BROKER_METHODS;
export type BrokerMethodName = keyof BrokerMethods;
/** What a caller sends to `method`. */
export type BrokerParams<M extends BrokerMethodName> = z.input<BrokerMethods[M]['params']>;
/** What a caller gets back from `method`, parsed. */
export type BrokerResult<M extends BrokerMethodName> = z.output<BrokerMethods[M]['result']>;

export function isBrokerMethod(name: string): name is BrokerMethodName {
  return Object.hasOwn(BROKER_METHODS, name);
}
