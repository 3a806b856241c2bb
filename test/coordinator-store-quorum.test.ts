/**
 * The store on three real etcd members that lose their quorum (two frozen with SIGSTOP): the leader's guarded writes
 * fail, each write is all or nothing, and once the members are back the state is the one before, but for writes
 * whose outcome was unknown, which are there whole or not at all. Durations are only bounded by the TTL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_IN_RECOVERY, type VmRecord } from '../src/coordinator/core/types.js';
import { EtcdClient } from '../src/coordinator/etcd/client.js';
import { EtcdError } from '../src/coordinator/etcd/errors.js';
import { Leadership } from '../src/coordinator/etcd/leadership.js';
import { Inventory } from '../src/coordinator/inventory/inventory.js';
import { EtcdStore } from '../src/coordinator/store/etcd-store.js';
import { StoreKeys } from '../src/coordinator/store/keys.js';
import { captureLog } from './support/capture-log.js';
import { findEtcd, startTestEtcd, type TestEtcd } from './support/etcd.js';
import { missing } from './support/peers.js';
import { engineDomainXml } from './support/vm-xml.js';
import { pollUntil } from './support/wait.js';

const noEtcd = missing("etcd (Debian's etcd-server)", !findEtcd());
const TTL_S = 8;

describe.skipIf(noEtcd)('the store on three members losing their quorum', () => {
  let etcd: TestEtcd;
  let lead: Leadership | undefined;
  beforeAll(async () => {
    etcd = await startTestEtcd(3);
  });
  afterAll(async () => {
    for (const m of etcd?.members ?? []) m.thaw();
    await lead?.stop();
    await etcd?.stop();
  });

  it('guarded writes fail, none is half-written, and after quorum returns the state is the one before', async () => {
    const keys = new StoreKeys('/quorum/vdsm-ts/coordinator/');
    const log = captureLog();
    // Bounds generous enough for a loaded machine: the outcome, not the time, is under test.
    const client = () => new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: 3000 });
    lead = new Leadership({
      etcd: client(),
      callTimeoutMs: 3000,
      election: keys.election,
      candidate: 'quorum',
      ttlSeconds: TTL_S,
      marginMs: 2000,
      retryMs: 300,
      campaignTimeoutMs: 5000,
    });
    lead.start();
    const store = new EtcdStore({
      etcd: client(),
      leadership: lead,
      keys,
      now: () => performance.now() / 1000,
      log: log.log,
    });
    const inv = new Inventory({ etcd: client(), keys, log: log.log });
    const raw = client();
    const dump = async () => {
      const r = await raw.range({ key: keys.prefix, prefix: true });
      return Object.fromEntries(
        r.kvs.filter((kv) => !kv.key.startsWith(keys.election)).map((kv) => [kv.key, kv.value]),
      );
    };

    await inv.addHost(
      { id: 'h1', address: '127.0.0.1', agents: [{ name: 'bmc', type: 'ipmilan', address: '10.0.0.1' }] },
      'a',
    );
    await inv.addHost({ id: 'h2', address: '127.0.0.2' }, 'a');
    const { uuid, xml } = engineDomainXml();
    await inv.defineVm(xml, { ha: true }, 'a');
    const epoch = (await lead.whenLeader(AbortSignal.timeout(20_000))).epoch;
    const vm: VmRecord = {
      id: uuid,
      ha: true,
      priority: 50,
      memMiB: 256,
      owner: 'h2',
      state: 'running',
      everUp: true,
      generation: 1,
      ...NOT_IN_RECOVERY,
    };
    expect(await store.writeHost(epoch, 'h1', { maintenance: true })).toBe(true);
    expect(await store.writeFence(epoch, 'h1', { phase: 'failed', startedAt: 5 })).toBe(true);
    expect(await store.writeVm(epoch, vm)).toBe(true);
    await store.audit(epoch, { at: 5, kind: 'fence', alert: true, text: 'fence of h1 failed' });
    const before = await dump();
    const loaded = await store.load();

    etcd.members[1]!.freeze();
    etcd.members[2]!.freeze();
    // Sent while the term may still count: not acknowledged, so false; etcd may still apply them once quorum is back.
    const h1Group = [keys.key('hosts', 'h1'), keys.key('host-state', 'h1'), keys.key('fence', 'h1')];
    const vmGroup = [keys.key('vms', uuid), keys.key('vm-defs', uuid)];
    expect(await store.writeHost(epoch, 'h1', null)).toBe(false);
    expect(await store.removeVm(epoch, uuid)).toBe(false);
    await expect(inv.addHost({ id: 'h3', address: '127.0.0.3' }, 'a')).rejects.toThrow(EtcdError);
    await expect(store.load()).rejects.toThrow(EtcdError);
    // Past the deadline nothing is sent at all.
    expect(await pollUntil(() => !lead!.isLeader(), TTL_S * 1000 + 5000, 100)).toBe(true);
    expect(await store.leadership()).toBeNull();
    expect(await store.writeFence(epoch, 'h2', { phase: 'fencing', startedAt: 9 })).toBe(false);
    expect(await store.writeVm(epoch, { ...vm, generation: 2, owner: 'h1' })).toBe(false);
    expect(await store.confirmEpoch(epoch)).toBe(false);
    await store.audit(epoch, { at: 9, kind: 'fence', alert: false, text: 'written without quorum' });
    expect(await store.commands()).toEqual([]);

    etcd.members[1]!.thaw();
    etcd.members[2]!.thaw();
    const next = await lead.whenLeader(AbortSignal.timeout(40_000));
    expect(next.epoch).toBeGreaterThan(epoch);
    const after = await dump();

    // Each write whose outcome was unknown is there whole or not at all.
    const whole = (group: string[]) =>
      group.every((k) => after[k] === before[k]) || group.every((k) => after[k] === undefined);
    expect(whole(h1Group)).toBe(true);
    expect(whole(vmGroup)).toBe(true);
    const h3Command = Object.entries(after).some(
      ([k, v]) => k.startsWith(keys.section('commands')) && v.includes('"id":"h3"'),
    );
    expect(h3Command).toBe(after[keys.key('hosts', 'h3')] !== undefined);
    // Everything else is as before: nothing written after the deadline arrived.
    const unknown = new Set([...h1Group, ...vmGroup, keys.key('hosts', 'h3')]);
    const rest = (d: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(d).filter(
          ([k, v]) => !unknown.has(k) && !(k.startsWith(keys.section('commands')) && v.includes('"id":"h3"')),
        ),
      );
    expect(rest(after)).toEqual(rest(before));
    // And the new term loads what is there: the state before, unless a whole removal landed.
    const reloaded = await store.load();
    if (after[keys.key('hosts', 'h1')] !== undefined && after[keys.key('vms', uuid)] !== undefined)
      expect(reloaded).toEqual(loaded);
    expect(reloaded.intents.h2).toBeUndefined();
    expect(reloaded.vms.every((v) => v.generation === 1)).toBe(true);
  }, 120_000);
});
