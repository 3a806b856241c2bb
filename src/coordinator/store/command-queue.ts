/**
 * Operator commands on their way from the CLI or the HTTP API (any replica) to the leader's core: queued as
 * `commands/<key>`, taken by the leader in commit order, each returned once. What "once" means when the leader
 * dies right after taking them is in src/coordinator/store/README.md ("Commands").
 */
import type { Command } from '../core/types.js';
import type { EtcdClient, TxnOp } from '../etcd/client.js';
import type { Guarded } from './audit-writer.js';
import { decode, encode, type StoreLog } from './decode.js';
import type { StoreKeys } from './keys.js';
import { commandSchema } from './schemas.js';

/** At most this many commands per take (etcd refuses more than 128 operations per transaction). */
export const TAKE_BATCH = 100;

/** The put that queues `command` (checked against its schema first). */
export function enqueueOp(keys: StoreKeys, command: Command): TxnOp & { op: 'put' } {
  return { op: 'put', key: keys.newCommandKey(), value: encode(commandSchema, command, 'a command') };
}

/**
 * Reads the oldest queued commands and deletes exactly those in one transaction under the guard of `epoch`; returns
 * the ones this transaction deleted (a concurrent take cannot return them too), oldest first. A value that is not
 * a command is reported and deleted with them. Nothing is returned when the guard fails.
 */
export async function takeCommands(
  etcd: Pick<EtcdClient, 'range'>,
  keys: StoreKeys,
  guarded: Guarded,
  epoch: number,
  log: StoreLog,
): Promise<Command[]> {
  const queued = await etcd.range({
    key: keys.section('commands'),
    prefix: true,
    sortByCreate: true,
    limit: TAKE_BATCH,
  });
  if (queued.kvs.length === 0) return [];
  const r = await guarded(
    epoch,
    queued.kvs.map((kv) => ({ op: 'delete', key: kv.key })),
    'take commands',
  );
  if (r === null) return [];
  const taken: Command[] = [];
  queued.kvs.forEach((kv, i) => {
    const resp = r.responses[i];
    if (resp?.op !== 'delete' || resp.deleted !== 1) return;
    const command = decode(commandSchema, kv, log);
    if (command) taken.push(command);
  });
  return taken;
}
