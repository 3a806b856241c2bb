/**
 * What the coordinator's HTTP API takes and answers, as zod schemas: the routes validate with them,
 * docs/coordinator-api.md is generated from them, and the CoordinatorApi's types derive from them.
 */
import { z } from 'zod';
import { HOST_VIEW_STATES } from '../core/types.js';
import { fenceAgentRecord, hostRecord, NAME, sshRecord } from '../inventory/records.js';

export const hostId = z
  .string()
  .regex(NAME, 'a host id: letters, digits, ".", "_" and "-" (at most 63), not starting with a sign')
  .describe('host id');

/** A VM's UUID or its name (both are safe here: no slash, no space). */
export const vmRef = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'a VM id (UUID) or name: letters, digits, ".", "_" and "-"')
  .describe('VM id (UUID) or name');

/** Who asks: recorded with the command in the audit trail (confirm-rebooted records it in the fence intent too). */
export const by = z
  .string()
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9 ._@-]{0,63}$/,
    'a name: letters, digits, space, ".", "_", "@" and "-" (at most 64), not starting with a space or sign',
  )
  .describe('who asks (recorded in the audit trail)');

/** A count or sequence number given as query text (`?since=12`). */
const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,15}$/, 'a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const VM_STATES = ['running', 'stopped', 'error', 'unknown', 'down', 'starting'] as const;
export const EVENT_KINDS = ['guard', 'fence', 'vm', 'command', 'alert', 'leadership'] as const;
export const ROLES = ['leader', 'follower'] as const;

/** Hosted-engine HA as the host's Host.getStats `haStats` reports it (the core's HaSeen). */
export const haStats = z.object({
  configured: z.boolean(),
  active: z.boolean(),
  score: z.number().int(),
  localMaintenance: z.boolean(),
  globalMaintenance: z.boolean(),
});

export const health = z.object({
  ok: z.boolean().describe('false when etcd is unreachable (the HTTP status is then 503)'),
  role: z.enum(ROLES),
  epoch: z.number().int().nullable().describe('the leader key create revision while this replica leads'),
  etcd: z.boolean().describe('etcd answered this replica lately'),
});
export type Health = z.input<typeof health>;

export const status = z.object({
  replica: z.string().describe("this replica's name"),
  role: z.enum(ROLES),
  epoch: z.number().int().nullable(),
  leader: z.string().nullable().describe('the replica that leads, when known'),
  etcd: z.boolean(),
  hosts: z.partialRecord(z.enum(HOST_VIEW_STATES), z.number().int().min(0)).describe('hosts by state'),
  vms: z.partialRecord(z.enum(VM_STATES), z.number().int().min(0)).describe('VMs by state'),
  globalMaintenance: z.boolean().nullable().describe('hosted-engine global maintenance; null: no host runs HA'),
});
export type StatusView = z.input<typeof status>;

/** The inventory record (no secret: passwords and keys are named by `passwordRef` / `keyRef`) and what is known. */
export const hostView = hostRecord.extend({
  state: z
    .enum(HOST_VIEW_STATES)
    .nullable()
    .describe(
      "the coordinator's state of the host (Initializing: added, not answered yet); null: not known (no leader published it)",
    ),
  maintenance: z.boolean().describe('the coordinator holds the host in maintenance'),
  vms: z.number().int().min(0).describe('VMs the coordinator records on the host'),
  ha: haStats.nullable().describe("hosted-engine HA from the host's last Host.getStats; null: not reported"),
});
export type HostView = z.input<typeof hostView>;

export const vmView = z.object({
  id: z.string(),
  name: z.string(),
  state: z.enum(VM_STATES),
  owner: z.string().nullable().describe('the host it runs on or is placed on'),
  ha: z.boolean(),
  priority: z.number().int().min(0).max(100),
  memMiB: z.number().int().min(0),
  everUp: z.boolean(),
});
export type VmView = z.input<typeof vmView>;

export const event = z.object({
  seq: z.number().int().min(0).describe('its place in the audit trail: `since` takes it'),
  time: z.iso.datetime({ offset: true }).describe('wall-clock time (ISO 8601)'),
  host: z.string().optional(),
  kind: z.enum(EVENT_KINDS),
  guard: z.string().optional().describe('the guard that stopped a fence'),
  alert: z.boolean(),
  text: z.string(),
});
export type EventView = z.input<typeof event>;

/** A command the leader carries out (or refuses, in the audit trail) after it was accepted here. */
export const accepted = z.object({
  detail: z.string().describe('what was queued'),
  id: z.string().optional().describe('the id of what was created (`vm define`)'),
});
export type Accepted = z.input<typeof accepted>;

export const errorBody = z.object({
  error: z.enum(['bad-request', 'not-found', 'method-not-allowed', 'too-large', 'refused', 'unavailable', 'internal']),
  message: z.string(),
});
export type ErrorBody = z.infer<typeof errorBody>;

// --- inputs ---

export const byQuery = z.strictObject({ by });

export const eventsQuery = z.strictObject({
  since: queryInt(0, Number.MAX_SAFE_INTEGER).optional().describe('only events with a larger seq'),
  limit: queryInt(1, 1000).optional().describe('at most this many, the latest (1 to 1000, default 100)'),
});

export const followQuery = z.strictObject({
  since: queryInt(0, Number.MAX_SAFE_INTEGER).optional().describe('start after this seq (default: only new events)'),
});

/**
 * `host add`: the inventory record, refused when it carries a key the record does not know (a `password` in an
 * agent is refused, not silently dropped: secrets stay in files named by `passwordRef` / `keyRef`).
 */
export const hostInput = hostRecord
  .extend({
    agents: z.array(fenceAgentRecord.strict()).default([]),
    ssh: sshRecord.strict().optional(),
  })
  .strict();

export const addHostBody = hostInput.extend({ by }).strict();

export const maintenanceBody = z.strictObject({
  on: z.boolean().describe('true: maintenance; false: activate'),
  keepVms: z.boolean().default(false).describe('refuse instead of moving its VMs away'),
  by,
});

export const globalMaintenanceBody = z.strictObject({ on: z.boolean(), by });

export const defineVmBody = z.strictObject({
  xml: z
    .string()
    .min(1)
    .max(512 * 1024)
    .describe('the libvirt domain XML (its UUID, name and memory are read from it)'),
  ha: z.boolean().default(false).describe('restart it elsewhere when its host fails'),
  priority: z.number().int().min(0).max(100).default(50).describe('0..100, higher restarts first'),
  by,
});

export const startVmBody = z.strictObject({
  host: hostId.optional().describe('start it there (refused if that host is not Up or lacks the memory)'),
  by,
});
