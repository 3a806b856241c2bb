/** What the broker's methods take and answer, each schema checked against the type the code uses. */
import { z } from 'zod';
import type { LeaseHolder } from '../lease.js';
import type { MonitorReadings } from '../monitors/types.js';
import type { EngineHealth, HostBlock } from '../types.js';
import { MAX_HOST_ID_LIMIT } from '../whiteboard.js';

export const hostId = z.number().int().min(1).max(MAX_HOST_ID_LIMIT);

export const engineHealth = z.object({
  vm: z.enum(['up', 'down', 'down_unexpected', 'down_missing', 'unknown']),
  health: z.enum(['good', 'bad', 'unknown']),
  detail: z.string(),
  reason: z.string().optional(),
}) satisfies z.ZodType<EngineHealth>;

/** A host block as read from the whiteboard, whoever wrote it. */
export const hostBlock = z.object({
  hostId,
  hostTs: z.number(),
  score: z.number(),
  engineStatus: engineHealth,
  hostname: z.string(),
  maintenance: z.boolean(),
  stopped: z.boolean(),
  confOnSharedStorage: z.boolean(),
  localConfTimestamp: z.number(),
  state: z.string(),
}) satisfies z.ZodType<HostBlock>;

/** A host block this host may write: the whiteboard's token line is split on `|` and ends at a line break. */
export const writableHostBlock = hostBlock.extend({
  hostname: z.string().regex(/^[^|\0\r\n]*$/, "must not contain '|', NUL or a line break"),
  state: z.string().regex(/^[^\0\r\n]*$/, 'must not contain NUL or a line break'),
}) satisfies z.ZodType<HostBlock>;

export const leaseHolder = z.object({
  hostId: z.number().int(),
  renewedAt: z.number(),
  state: z.string().optional(),
}) satisfies z.ZodType<LeaseHolder>;

export const monitorReadings = z.object({
  network: z.number().nullable(),
  bridgeUp: z.boolean().nullable(),
  memFreeMiB: z.number().nullable(),
  cpuLoad: z.number().nullable(),
  engine: engineHealth,
  storageOk: z.boolean().nullable(),
}) satisfies z.ZodType<MonitorReadings>;

/** What `whiteboard` answers: every valid host block of the shared whiteboard, and what could not be read. */
export const whiteboardSnapshot = z.object({
  globalMaintenance: z.boolean(),
  hosts: z.array(hostBlock),
  extras: z.record(z.string(), z.string()).describe("host id -> the human-readable part of the host's block"),
  problems: z.array(z.object({ slot: z.number().int(), error: z.string() })),
});

/** What `status` answers: everything the CLI and vdsmd show, from the local agent's point of view. */
export const brokerStatus = z.object({
  hostId: z.number().int(),
  ...whiteboardSnapshot.shape,
  alive: z
    .array(z.number().int())
    .nullable()
    .describe('host ids the local agent saw alive (itself included); null when the agent has not said so for 60 s'),
  localMaintenance: z.boolean(),
  readings: monitorReadings,
  lockspace: z
    .object({ joined: z.boolean(), error: z.string().nullable() })
    .nullable()
    .describe('sanlock: whether this host holds its host id in the lockspace (null: file lock, nothing to join)'),
});

export type BrokerStatus = z.output<typeof brokerStatus>;
