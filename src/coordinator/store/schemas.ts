/**
 * The core's records as the store keeps them (src/coordinator/core/types.ts), one strict zod schema each: every
 * value read from etcd is checked before the core sees it, and every value written is checked before it is sent.
 * `satisfies` ties each schema to the core's type, so that a change of the type that the schema misses fails tsc.
 */
import { z } from 'zod';
import type {
  AuditEvent,
  Command,
  FenceIntent,
  HostSpec,
  HostStateRecord,
  VmDefinition,
  VmRecord,
} from '../core/types.js';
import { PROXY_SOURCES } from '../core/types.js';
import { NAME, VM_ID } from '../inventory/records.js';

const hostId = z.string().regex(NAME);
const vmId = z.string().regex(VM_ID);
const seconds = z.number().finite();
/** Who asked (a person's name as the CLI or the HTTP API gives it). */
const by = z.string().min(1).max(200);

export const fenceIntentSchema = z.strictObject({
  phase: z.enum(['fencing', 'off-sent', 'off-confirmed', 'failed']),
  startedAt: seconds,
  manual: z.strictObject({ by, at: seconds }).optional(),
}) satisfies z.ZodType<FenceIntent>;

export const vmRecordSchema = z.strictObject({
  id: vmId,
  ha: z.boolean(),
  priority: z.number().int().min(0).max(100),
  memMiB: z.number().int().min(1),
  owner: hostId.nullable(),
  state: z.enum(['running', 'stopped', 'error', 'unknown', 'down', 'starting']),
  everUp: z.boolean(),
  generation: z.number().int().min(0),
  restart: z.boolean(),
  from: hostId.nullable(),
  queuedAt: seconds.nullable(),
  attempts: z.number().int().min(0),
  nextTryAt: seconds.nullable(),
  startSentAt: seconds.nullable(),
}) satisfies z.ZodType<VmRecord>;

/** The leader's part of a host (`host-state/<id>`). */
export const hostStateSchema = z.strictObject({
  maintenance: z.boolean(),
  answered: z.boolean().optional(),
  haOffPending: z.boolean().optional(),
}) satisfies z.ZodType<HostStateRecord>;

const hostSpecSchema = z.strictObject({
  id: hostId,
  cluster: hostId,
  agents: z.array(z.strictObject({ name: hostId, order: z.number().int().min(1) })).readonly(),
  proxyPreference: z.array(z.enum(PROXY_SOURCES)).min(1).readonly().optional(),
  maintenance: z.boolean().optional(),
}) satisfies z.ZodType<HostSpec>;

const vmDefinitionSchema = z.strictObject({
  id: vmId,
  ha: z.boolean(),
  priority: z.number().int().min(0).max(100),
  memMiB: z.number().int().min(1),
}) satisfies z.ZodType<VmDefinition>;

export const commandSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('confirm-rebooted'), host: hostId, by }),
  z.strictObject({
    kind: z.literal('maintenance'),
    host: hostId,
    on: z.boolean(),
    by,
    keepVms: z.boolean().optional(),
  }),
  z.strictObject({ kind: z.literal('host-add'), spec: hostSpecSchema, by }),
  z.strictObject({ kind: z.literal('host-remove'), host: hostId, by }),
  z.strictObject({ kind: z.literal('vm-define'), vm: vmDefinitionSchema, by }),
  z.strictObject({ kind: z.literal('vm-start'), vm: vmId, host: hostId.optional(), by }),
  z.strictObject({ kind: z.literal('vm-stop'), vm: vmId, by }),
  z.strictObject({ kind: z.literal('vm-remove'), vm: vmId, by }),
  z.strictObject({
    kind: z.literal('stepped-down'),
    by,
    epoch: z.number().int().min(1),
    reason: z.string().min(1).max(500),
    refused: z.array(z.string().min(1).max(200)).max(50),
    cutOff: z.array(z.string().min(1).max(200)).max(50),
    etcd: z.enum(['refused', 'held']),
    leader: z.strictObject({ epoch: z.number().int().min(1), name: z.string().min(1).max(500) }).optional(),
  }),
]) satisfies z.ZodType<Command>;

export const auditEventSchema = z.strictObject({
  at: seconds,
  host: z.string().optional(),
  kind: z.enum(['guard', 'fence', 'vm', 'command', 'alert', 'leadership']),
  guard: z
    .enum([
      'not-leader',
      'new-leader',
      'partition',
      'witness',
      'no-witness',
      'fencing-disabled',
      'flapping',
      'policy',
      'no-pm',
      'no-proxy',
      'answers',
    ])
    .optional(),
  alert: z.boolean(),
  text: z.string(),
}) satisfies z.ZodType<AuditEvent>;

/** One audit entry as stored (`audit/<id>`): the core's event, the epoch that wrote it, and the wall-clock time. */
export const auditRecordSchema = z.strictObject({
  epoch: z.number().int().min(1),
  /** ISO 8601, UTC, from the writer's clock (the event's own `at` is the leader's monotonic seconds). */
  time: z.iso.datetime(),
  event: auditEventSchema,
});
export type AuditRecord = z.output<typeof auditRecordSchema>;
