/**
 * The coordinator's store and inventory on one real etcd member (test/support/etcd.ts): what a new leader loads,
 * epoch-guarded writes against a replica that took over, commands from two writers, the audit trail across two
 * leaders, its retention and its follow, the inventory's refusals, and no secret under the prefix.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_IN_RECOVERY, type AuditEvent, type FenceIntent, type VmRecord } from '../src/coordinator/core/types.js';
import { EtcdClient } from '../src/coordinator/etcd/client.js';
import type { Clock } from '../src/coordinator/etcd/clock.js';
import { type LeaderTerm, Leadership } from '../src/coordinator/etcd/leadership.js';
import { InventoryError } from '../src/coordinator/inventory/errors.js';
import { Inventory, type Queued } from '../src/coordinator/inventory/inventory.js';
import type { HostRecordInput } from '../src/coordinator/inventory/records.js';
import type { AuditEntry } from '../src/coordinator/store/audit-reader.js';
import { EtcdStore } from '../src/coordinator/store/etcd-store.js';
import { StoreKeys } from '../src/coordinator/store/keys.js';
import { StepDownReports } from '../src/coordinator/runtime/step-down.js';
import { captureLog } from './support/capture-log.js';
import { findEtcd, startTestEtcd, type TestEtcd } from './support/etcd.js';
import { missing } from './support/peers.js';
import { engineDomainXml } from './support/vm-xml.js';
import { waitFor } from './support/wait.js';

const noEtcd = missing("etcd (Debian's etcd-server)", !findEtcd());
const TTL_S = 20;
const STALE_TTL_S = 5;
const MARGIN_MS = 1500;
const SSH_FP = `SHA256:${'A'.repeat(43)}`;

/** A clock that never moves and never fires: a leader on it believes it leads forever and sends no keepalive. */
const frozenClock: Clock = { now: () => 0, setTimer: () => () => {} };

let etcd: TestEtcd;
let raw: EtcdClient;
const leaderships: Leadership[] = [];
let prefixes = 0;

beforeAll(async () => {
  if (noEtcd) return;
  etcd = await startTestEtcd(1);
  raw = new EtcdClient({ endpoints: etcd.endpoints });
});
afterAll(async () => {
  await Promise.all(leaderships.map((l) => l.stop()));
  await etcd?.stop();
});

/** A fresh prefix per test: the tests share one member. */
function freshKeys(): StoreKeys {
  prefixes += 1;
  return new StoreKeys(`/t${prefixes}/vdsm-ts/coordinator/`);
}

/**
 * A campaigning Leadership. `clock: frozenClock` with `ttlSeconds: STALE_TTL_S` is a leader whose lease runs out in
 * etcd while it believes it leads; every other leader has a TTL long enough that a loaded machine (slow etcd fsyncs,
 * a starved event loop) does not end its term in the middle of a test that is not about that.
 */
function leader(
  keys: StoreKeys,
  candidate: string,
  o: { clock?: Clock; onLost?: (term: LeaderTerm, reason: string) => void; ttlSeconds?: number } = {},
): Leadership {
  const l = new Leadership({
    ...(o.onLost ? { onLost: o.onLost } : {}),
    etcd: new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: 2000 }),
    election: keys.election,
    candidate,
    ttlSeconds: o.ttlSeconds ?? TTL_S,
    marginMs: MARGIN_MS,
    retryMs: 200,
    campaignTimeoutMs: 10_000,
    ...(o.clock ? { clock: o.clock } : {}),
  });
  leaderships.push(l);
  l.start();
  return l;
}

function storeOf(
  keys: StoreKeys,
  lead: Leadership,
  auditRetention?: number,
  onRefused?: (epoch: number, what: string) => void,
) {
  const cap = captureLog();
  const store = new EtcdStore({
    ...(onRefused ? { onRefused } : {}),
    etcd: new EtcdClient({ endpoints: etcd.endpoints }),
    leadership: lead,
    keys,
    now: () => performance.now() / 1000,
    log: cap.log,
    ...(auditRetention ? { auditRetention } : {}),
  });
  return { store, cap };
}

function inventoryOf(keys: StoreKeys) {
  const cap = captureLog();
  return { inv: new Inventory({ etcd: new EtcdClient({ endpoints: etcd.endpoints }), keys, log: cap.log }), cap };
}

/** Every key and value under the prefix but the election's (leader keys come and go with leases). */
async function dump(keys: StoreKeys): Promise<Record<string, string>> {
  const r = await raw.range({ key: keys.prefix, prefix: true });
  return Object.fromEntries(r.kvs.filter((kv) => !kv.key.startsWith(keys.election)).map((kv) => [kv.key, kv.value]));
}

const elected = async (l: Leadership) => (await l.whenLeader(AbortSignal.timeout(20_000))).epoch;

function vmRecord(id: string, over: Partial<VmRecord> = {}): VmRecord {
  return {
    id,
    ha: true,
    priority: 60,
    memMiB: 256,
    owner: 'h1',
    state: 'running',
    everUp: true,
    generation: 3,
    ...NOT_IN_RECOVERY,
    ...over,
  };
}

const host = (id: string, over: Partial<HostRecordInput> = {}): HostRecordInput => ({
  id,
  address: '127.0.0.1',
  port: 54321,
  ...over,
});

const event = (text: string, over: Partial<AuditEvent> = {}): AuditEvent => ({
  at: 1,
  kind: 'fence',
  alert: false,
  text,
  ...over,
});

describe.skipIf(noEtcd)('EtcdStore: what a new leader loads and the leader writes', () => {
  it('load returns what the inventory and the leader wrote: hosts with agents and maintenance, intents, VM records', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const lead = leader(keys, 'load');
    const { store } = storeOf(keys, lead);
    await inv.addHost(
      host('h1', {
        agents: [
          { name: 'bmc', type: 'ipmilan', address: '10.0.0.1', passwordRef: 'h1-bmc', order: 1 },
          { name: 'pdu', type: 'apc_snmp', address: '10.0.0.9', plug: '3', order: 2 },
        ],
        ssh: { hostKeySha256: SSH_FP, keyRef: 'ssh-key' },
      }),
      'admin',
    );
    await inv.addHost(host('h2', { cluster: 'c2', proxyPreference: ['dc'] }), 'admin');
    const { uuid } = engineDomainXml();
    const epoch = await elected(lead);
    const intent: FenceIntent = { phase: 'off-confirmed', startedAt: 12.5, manual: { by: 'alice', at: 20 } };
    const vm = vmRecord(uuid);
    expect(await store.writeHost(epoch, 'h1', { maintenance: true })).toBe(true);
    expect(await store.writeHost(epoch, 'h2', { maintenance: false, answered: false, haOffPending: true })).toBe(true);
    expect(await store.writeFence(epoch, 'h2', intent)).toBe(true);
    expect(await store.writeVm(epoch, vm)).toBe(true);

    expect(await store.load()).toEqual({
      hosts: [
        {
          id: 'h1',
          cluster: 'Default',
          agents: [
            { name: 'bmc', order: 1 },
            { name: 'pdu', order: 2 },
          ],
          maintenance: true,
        },
        {
          id: 'h2',
          cluster: 'c2',
          agents: [],
          proxyPreference: ['dc'],
          maintenance: false,
          answered: false,
          haOffPending: true,
        },
      ],
      intents: { h2: intent },
      vms: [vm],
    });
    expect(await store.leadership()).toEqual({ epoch, since: expect.any(Number) });
  });

  it('writeHost(null) removes the host, its state and its intent together; removeVm its record and definition', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const lead = leader(keys, 'remove');
    const { store } = storeOf(keys, lead);
    await inv.addHost(host('h1'), 'admin');
    await inv.addHost(host('h2'), 'admin');
    const { uuid, xml } = engineDomainXml();
    await inv.defineVm(xml, { ha: true }, 'admin');
    const epoch = await elected(lead);
    await store.writeHost(epoch, 'h1', { maintenance: true });
    await store.writeFence(epoch, 'h1', { phase: 'failed', startedAt: 3 });
    await store.writeVm(epoch, vmRecord(uuid, { state: 'stopped', owner: null }));

    expect(await store.writeHost(epoch, 'h1', null)).toBe(true);
    expect(await store.removeVm(epoch, uuid)).toBe(true);
    const left = Object.keys(await dump(keys)).filter((k) => !k.startsWith(keys.section('commands')));
    expect(left).toEqual([keys.key('hosts', 'h2')]);
    expect(await store.load()).toEqual({ hosts: [{ id: 'h2', cluster: 'Default', agents: [] }], intents: {}, vms: [] });
  });

  it('a value that is not JSON, misses or adds a field, or sits under a key of another id is reported and skipped', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const lead = leader(keys, 'bad-values');
    const { store, cap } = storeOf(keys, lead);
    await inv.addHost(host('good'), 'admin');
    const uuid = randomUUID();
    await raw.put(keys.key('hosts', 'notjson'), '{not json');
    await raw.put(keys.key('hosts', 'sneaky'), JSON.stringify({ ...host('sneaky'), password: 'Hunter2-in-etcd' }));
    await raw.put(keys.key('hosts', 'other'), JSON.stringify({ ...host('someone-else'), agents: [] }));
    await raw.put(keys.key('hosts', 'bad id!'), JSON.stringify(host('x')));
    await raw.put(keys.key('fence', 'good'), JSON.stringify({ phase: 'exploded', startedAt: 1 }));
    await raw.put(keys.key('vms', uuid), JSON.stringify({ id: uuid, ha: true }));
    await raw.put(keys.key('host-state', 'good'), JSON.stringify({ maintenance: 'yes' }));
    await raw.put(keys.key('commands', '0-garbage'), JSON.stringify({ kind: 'reboot-everything', by: 'x' }));
    await elected(lead);

    expect(await store.load()).toEqual({
      hosts: [{ id: 'good', cluster: 'Default', agents: [] }],
      intents: {},
      vms: [],
    });
    const warned = cap
      .lines()
      .filter((l) => l.level === 40)
      .map((l) => l.key);
    for (const k of [
      keys.key('hosts', 'notjson'),
      keys.key('hosts', 'sneaky'),
      keys.key('hosts', 'other'),
      keys.key('hosts', 'bad id!'),
      keys.key('fence', 'good'),
      keys.key('vms', uuid),
      keys.key('host-state', 'good'),
    ])
      expect(warned).toContain(k);
    expect(cap.text()).toContain('Unrecognized key');
    expect(cap.text()).not.toContain('Hunter2-in-etcd');

    // The bad command is taken off the queue with the good one and never returned.
    const taken = await store.commands();
    expect(taken).toEqual([{ kind: 'host-add', spec: { id: 'good', cluster: 'Default', agents: [] }, by: 'admin' }]);
    expect(await raw.range({ key: keys.section('commands'), prefix: true })).toMatchObject({ count: 0 });
  });
});

describe.skipIf(noEtcd)('EtcdStore: a stale epoch writes nothing', () => {
  it('a leader whose clock stood still while another replica took over writes nothing and gets false', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    await inv.addHost(host('h1'), 'admin');
    const { uuid } = engineDomainXml();
    // Replica A on a clock that never moves: it sends no keepalive and its deadline never passes, as if paused.
    const a = leader(keys, 'stale-a', { clock: frozenClock, ttlSeconds: STALE_TTL_S });
    const { store: storeA, cap: capA } = storeOf(keys, a);
    const epochA = await elected(a);
    const before = vmRecord(uuid, { generation: 1 });
    expect(await storeA.writeVm(epochA, before)).toBe(true);
    await storeA.audit(epochA, event('written by A'));

    // Its lease expires in etcd; replica B takes over with a higher epoch.
    const b = leader(keys, 'stale-b');
    const { store: storeB } = storeOf(keys, b);
    const epochB = await elected(b);
    expect(epochB).toBeGreaterThan(epochA);
    expect(a.isLeader()).toBe(true); // A still believes it leads: only etcd's guard can stop it
    expect(await storeA.leadership()).toEqual({ epoch: epochA, since: expect.any(Number) });
    const state = await dump(keys);

    expect(await storeA.writeVm(epochA, vmRecord(uuid, { generation: 2, owner: 'h9' }))).toBe(false);
    expect(a.isLeader()).toBe(false); // etcd's answer ended A's term
    expect(await storeA.writeFence(epochA, 'h1', { phase: 'fencing', startedAt: 1 })).toBe(false);
    expect(await storeA.writeHost(epochA, 'h1', null)).toBe(false);
    expect(await storeA.removeVm(epochA, uuid)).toBe(false);
    expect(await storeA.confirmEpoch(epochA)).toBe(false);
    await storeA.audit(epochA, event('late A'));
    expect(await storeA.commands()).toEqual([]);
    expect(await storeA.leadership()).toBeNull();
    expect(await dump(keys)).toEqual(state);
    expect(capA.text()).toContain('not leader');

    // B's epoch is not A's: B's store refuses A's epoch too, and writes under its own.
    expect(await storeB.writeVm(epochA, vmRecord(uuid, { generation: 9 }))).toBe(false);
    expect(await storeB.writeVm(epochB, vmRecord(uuid, { generation: 2 }))).toBe(true);
    expect((await storeB.load()).vms).toEqual([vmRecord(uuid, { generation: 2 })]);
  }, 60_000);
});

describe.skipIf(noEtcd)('a lost term reaches the audit trail', () => {
  it('the deposed replica queues its account (writes refused, calls cut off, etcd refusing its epoch); a clean stop queues none', async () => {
    const keys = freshKeys();
    const cap = captureLog();
    let inFlight = ['power off of h1 through h2'];
    const reports = new StepDownReports({
      replica: 'stale-a',
      etcd: raw,
      keys,
      inFlight: () => inFlight,
      settleMs: 300,
      retryMs: 200,
      log: cap.log,
    });
    const a = leader(keys, 'stale-a', {
      clock: frozenClock,
      ttlSeconds: STALE_TTL_S,
      onLost: (t, why) => reports.ended(t, why),
    });
    const { store: storeA } = storeOf(keys, a, undefined, (e, what) => reports.refused(e, what));
    const epochA = await elected(a);
    const b = leader(keys, 'stale-b', { onLost: (t, why) => reports.ended(t, why) });
    const { store: storeB } = storeOf(keys, b);
    const epochB = await elected(b);

    // etcd refuses A's first write; the term ends there with the power call in flight; a later write is refused at home
    expect(await storeA.writeFence(epochA, 'h1', { phase: 'off-sent', startedAt: 1 })).toBe(false);
    inFlight = [];
    expect(await storeA.writeVm(epochA, vmRecord(randomUUID()))).toBe(false);
    const taken = await waitFor(
      'the account of the lost term queued',
      async () => {
        const c = await storeB.commands();
        return c.length > 0 ? c : undefined;
      },
      10_000,
      100,
    );
    expect(taken).toEqual([
      {
        kind: 'stepped-down',
        by: 'stale-a',
        epoch: epochA,
        reason: 'the leader key is gone or was recreated (another replica may lead)',
        refused: ['write fence intent', 'write VM record'],
        cutOff: ['power off of h1 through h2'],
        etcd: 'refused',
        leader: { epoch: epochB, name: 'stale-b' },
      },
    ]);
    expect(JSON.stringify(await dump(keys))).not.toContain('stepped-down'); // taken once

    await b.stop(); // a clean stop is not news
    await new Promise((r) => setTimeout(r, 1000));
    expect(JSON.stringify(await dump(keys))).not.toContain('stepped-down');
    await reports.close();
  }, 60_000);
});

describe.skipIf(noEtcd)('commands: queued by any replica, taken by the leader once each', () => {
  it('two writers, one with its clock an hour behind, queue in turn: the leader takes their commands in commit order', async () => {
    const keys = freshKeys();
    const one = inventoryOf(keys).inv;
    // The lagging writer's command keys sort before the other's: only etcd's commit order is right.
    const two = inventoryOf(new StoreKeys(keys.prefix, () => Date.now() - 3_600_000)).inv;
    const lead = leader(keys, 'commands-order');
    const { store } = storeOf(keys, lead);
    const queued: Queued[] = [];
    queued.push(await one.addHost(host('h1'), 'alice'));
    queued.push(await two.addHost(host('h2'), 'bob'));
    queued.push(await one.maintenance('h1', true, false, 'alice'));
    queued.push(await two.confirmRebooted('h2', 'bob'));
    queued.push(await one.maintenance('h1', false, false, 'alice'));
    queued.push(await two.removeHost('h2', 'bob'));
    await elected(lead);
    expect(await store.commands()).toEqual(queued.map((q) => q.command));
    expect(await store.commands()).toEqual([]);
  });

  it('two writers queue at once and two takes run at once: each command is taken exactly once', async () => {
    const keys = freshKeys();
    const one = inventoryOf(keys).inv;
    const two = inventoryOf(keys).inv;
    const lead = leader(keys, 'commands-once');
    const { store } = storeOf(keys, lead);
    const queued: Queued[] = [await one.addHost(host('h1'), 'alice'), await two.addHost(host('h2'), 'bob')];
    queued.push(
      ...(await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? one : two).maintenance(i % 3 ? 'h1' : 'h2', i % 4 === 0, false, `op${i}`),
        ),
      )),
    );
    await elected(lead);
    const takes = await Promise.all([store.commands(), store.commands(), store.commands()]);
    const rest = await store.commands();
    // Every `by` is distinct: it names a command.
    const inCommitOrder = [...queued].sort((p, q) => p.revision - q.revision).map((q) => q.command);
    const order = inCommitOrder.map((c) => c.by);
    expect(new Set(order).size).toBe(queued.length);
    const parts = [...takes, rest];
    const taken = parts.flat();
    expect(taken.map((c) => c.by).sort()).toEqual([...order].sort()); // every command, none twice
    for (const c of taken) expect(c).toEqual(inCommitOrder[order.indexOf(c.by)]);
    for (const part of parts) {
      const positions = part.map((c) => order.indexOf(c.by));
      expect(positions).toEqual([...positions].sort((p, q) => p - q)); // each take in commit order
    }
    expect(await store.commands()).toEqual([]);
  });

  it('a command for a host or VM that is not recorded is refused at once, and nothing is queued', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const uuid = randomUUID();
    const refusals = [
      () => inv.maintenance('nohost', true, false, 'alice'),
      () => inv.confirmRebooted('nohost', 'alice'),
      () => inv.removeHost('nohost', 'alice'),
      () => inv.startVm(uuid, undefined, 'alice'),
      () => inv.stopVm(uuid, 'alice'),
      () => inv.removeVm(uuid, 'alice'),
    ];
    for (const r of refusals) await expect(r()).rejects.toMatchObject({ name: 'InventoryError', kind: 'not-found' });
    const { xml } = engineDomainXml({ uuid });
    await inv.defineVm(xml, {}, 'alice');
    await expect(inv.startVm(uuid, 'nohost', 'alice')).rejects.toMatchObject({ kind: 'not-found' });
    expect(Object.keys(await dump(keys)).filter((k) => k.startsWith(keys.section('commands')))).toHaveLength(1);
  });
});

describe.skipIf(noEtcd)('the audit trail', () => {
  it('keeps write order across two successive leaders, each entry with its epoch; the deposed one adds nothing', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const a = leader(keys, 'audit-a');
    const { store: storeA } = storeOf(keys, a);
    const epochA = await elected(a);
    await storeA.audit(epochA, event('a1'));
    await storeA.audit(epochA, event('a2', { kind: 'guard', guard: 'partition', alert: true, host: 'h1' }));
    await a.stop();
    const b = leader(keys, 'audit-b');
    const { store: storeB } = storeOf(keys, b);
    const epochB = await elected(b);
    await storeB.audit(epochB, event('b1'));
    await storeA.audit(epochA, event('a-late'));
    await storeB.audit(epochB, event('b2'));

    const page = await inv.events({ limit: 100 });
    expect(page.entries.map((e) => [e.event.text, e.epoch])).toEqual([
      ['a1', epochA],
      ['a2', epochA],
      ['b1', epochB],
      ['b2', epochB],
    ]);
    expect(page.entries[1]!.event).toEqual(event('a2', { kind: 'guard', guard: 'partition', alert: true, host: 'h1' }));
    expect(page.entries.every((e) => !Number.isNaN(Date.parse(e.time)))).toBe(true);
    expect((await inv.events({ since: page.entries[1]!.id, limit: 100 })).entries.map((e) => e.event.text)).toEqual([
      'b1',
      'b2',
    ]);
  }, 60_000);

  it('a second store object of the same epoch continues the sequence instead of overwriting it', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const lead = leader(keys, 'audit-restart');
    const epoch = await elected(lead);
    await storeOf(keys, lead).store.audit(epoch, event('first'));
    await storeOf(keys, lead).store.audit(epoch, event('second'));
    expect((await inv.events()).entries.map((e) => e.event.text)).toEqual(['first', 'second']);
  });

  it('retention keeps the latest entries only, trimmed by the leader as it writes', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const lead = leader(keys, 'retention');
    const { store } = storeOf(keys, lead, 5);
    const epoch = await elected(lead);
    for (let i = 0; i < 12; i++) await store.audit(epoch, event(`e${i}`));

    const all = await raw.range({ key: keys.section('audit'), prefix: true });
    expect(all.count).toBe(5);
    const page = await inv.events({ limit: 100 });
    expect(page.entries.map((e) => e.event.text)).toEqual(['e7', 'e8', 'e9', 'e10', 'e11']);
    expect((await inv.events({ limit: 2 })).entries.map((e) => e.event.text)).toEqual(['e10', 'e11']);
    expect((await inv.events({ since: page.entries[1]!.id, limit: 2 })).entries.map((e) => e.event.text)).toEqual([
      'e9',
      'e10',
    ]);
  });

  it('follow delivers each entry written after the page it starts from, once and in order', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const lead = leader(keys, 'follow');
    const { store } = storeOf(keys, lead, 3);
    const epoch = await elected(lead);
    await store.audit(epoch, event('before'));
    const page = await inv.events();
    const seen: AuditEntry[] = [];
    const stop = new AbortController();
    const following = inv.follow({
      signal: stop.signal,
      fromRevision: page.revision + 1,
      onEntry: (e) => seen.push(e),
    });
    for (const t of ['n1', 'n2', 'n3', 'n4']) await store.audit(epoch, event(t)); // retention deletes are not news
    try {
      await waitFor('four followed entries', () => seen.length >= 4, 10_000, 50);
    } finally {
      stop.abort();
      await following;
    }
    expect(seen.map((e) => [e.event.text, e.epoch])).toEqual([
      ['n1', epoch],
      ['n2', epoch],
      ['n3', epoch],
      ['n4', epoch],
    ]);
  });
});

describe.skipIf(noEtcd)('the audit follow after a compaction', () => {
  it('reads again what the watch can no longer replay: every entry once, in order, then the new ones', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const lead = leader(keys, 'compacted');
    const { store } = storeOf(keys, lead);
    const epoch = await elected(lead);
    await store.audit(epoch, event('before'));
    const page = await inv.events();
    for (const t of ['m1', 'm2', 'm3']) await store.audit(epoch, event(t));
    const head = (await raw.range({ key: keys.prefix, prefix: true, keysOnly: true, limit: 1 })).revision;
    // etcd's own compaction (its HTTP gateway): revisions up to `head` can no longer be watched
    const compacted = await fetch(`${etcd.endpoints[0]}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(head), physical: true }),
    });
    expect(compacted.status).toBe(200);
    const seen: string[] = [];
    const stop = new AbortController();
    const following = inv.follow({
      signal: stop.signal,
      fromRevision: page.revision + 1,
      after: page.entries.at(-1)!.id,
      onEntry: (e) => seen.push(e.event.text),
    });
    try {
      await waitFor('the three compacted entries', () => seen.length >= 3, 10_000, 50);
      await store.audit(epoch, event('n4'));
      await waitFor('the entry written after', () => seen.length >= 4, 10_000, 50);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      stop.abort();
      await following;
    }
    expect(seen).toEqual(['m1', 'm2', 'm3', 'n4']);
  });
});

describe.skipIf(noEtcd)('the inventory refuses what it must not store', () => {
  it('a second host under an existing id with other settings is refused; the same record again re-queues its command', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    await inv.addHost(host('h1'), 'alice');
    const state = await dump(keys);
    await expect(inv.addHost(host('h1', { address: '10.9.9.9' }), 'bob')).rejects.toMatchObject({
      name: 'InventoryError',
      kind: 'exists',
    });
    expect(await dump(keys)).toEqual(state);

    await inv.addHost(host('h1'), 'alice');
    const after = await dump(keys);
    expect(after[keys.key('hosts', 'h1')]).toBe(state[keys.key('hosts', 'h1')]);
    expect(Object.keys(after).filter((k) => k.startsWith(keys.section('commands')))).toHaveLength(2);
  });

  it('a record carrying a password field, or a secret fence option, is refused without repeating the secret', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const secret = 'Pa55w0rd-never-stored';
    const attempts = [
      { ...host('h1'), password: secret },
      host('h1', { agents: [{ name: 'bmc', type: 'ipmilan', address: '10.0.0.1', password: secret } as never] }),
      host('h1', { agents: [{ name: 'bmc', type: 'ipmilan', address: '10.0.0.1', options: { passwd: secret } }] }),
      host('h1', { agents: [{ name: 'p', type: 'apc_snmp', address: '10.0.0.2', options: { community: secret } }] }),
      host('h1', { ssh: { hostKeySha256: SSH_FP, keyRef: 'k', privateKey: secret } as never }),
    ];
    for (const attempt of attempts) {
      const err = await inv.addHost(attempt, 'alice').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InventoryError);
      expect((err as InventoryError).kind).toBe('invalid');
      expect((err as Error).message).not.toContain(secret);
    }
    await expect(inv.addHost(attempts[2], 'alice')).rejects.toThrow(/agents\.0\.options\.passwd: names a secret/);
    expect(await dump(keys)).toEqual({});
  });

  it('domain XML that is malformed, has no uuid, or no memory is refused; a VM is defined once', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const { uuid, xml } = engineDomainXml({ memoryMiB: 512, name: 'web' });
    await expect(inv.defineVm('<domain><name>x</name>', {}, 'a')).rejects.toMatchObject({ kind: 'invalid' });
    await expect(inv.defineVm(xml.replace(/<uuid>.*<\/uuid>/, ''), {}, 'a')).rejects.toThrow(/no <uuid>/);
    await expect(inv.defineVm(xml.replace(/<memory.*<\/memory>/, ''), {}, 'a')).rejects.toThrow(/no <memory>/);
    await expect(inv.defineVm(xml, { priority: 101 }, 'a')).rejects.toMatchObject({ kind: 'invalid' });
    expect(await dump(keys)).toEqual({});

    const q = await inv.defineVm(xml.replace(uuid, uuid.toUpperCase()), { ha: true, priority: 80 }, 'a');
    expect(q.command).toEqual({ kind: 'vm-define', vm: { id: uuid, ha: true, priority: 80, memMiB: 512 }, by: 'a' });
    await expect(inv.defineVm(xml, { ha: false }, 'b')).rejects.toMatchObject({ kind: 'exists' });
    expect(await inv.vms()).toEqual([
      { id: uuid, name: 'web', definition: { ha: true, priority: 80, memMiB: 512 }, record: null },
    ]);
    expect((await inv.vmDefinition(uuid))!.xml).toContain('<name>web</name>');
  });

  it('memory comes in MiB from <memory> with its unit, or from <currentMemory>', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const define = async (memory: string) => {
      const { xml } = engineDomainXml();
      return (await inv.defineVm(xml.replace(/<memory.*<\/memory>/, memory), {}, 'a')).command;
    };
    expect(await define('<memory unit="GiB">2</memory>')).toMatchObject({ vm: { memMiB: 2048 } });
    expect(await define('<memory>1048576</memory>')).toMatchObject({ vm: { memMiB: 1024 } });
    expect(await define('<currentMemory unit="M">300</currentMemory>')).toMatchObject({ vm: { memMiB: 300 } });
  });

  it('no secret is stored: every value under the prefix is free of the password file it names', async () => {
    const keys = freshKeys();
    const { inv } = inventoryOf(keys);
    const dir = mkdtempSync(join(tmpdir(), 'vdsm-ts-secrets-'));
    try {
      const secret = `bmc-${randomUUID()}`;
      writeFileSync(join(dir, 'h1-bmc'), secret, { mode: 0o600 });
      await inv.addHost(
        host('h1', {
          agents: [{ name: 'bmc', type: 'ipmilan', address: '10.0.0.1', username: 'admin', passwordRef: 'h1-bmc' }],
          ssh: { hostKeySha256: SSH_FP, keyRef: 'h1-ssh' },
        }),
        'alice',
      );
      await inv
        .addHost({ ...host('h2'), password: readFileSync(join(dir, 'h1-bmc'), 'utf8') }, 'alice')
        .catch(() => {});
      const values = await dump(keys);
      expect(Object.keys(values).length).toBeGreaterThan(0);
      expect(JSON.stringify(values)).toContain('h1-bmc');
      for (const [k, v] of Object.entries(values)) {
        expect(v, k).not.toContain(secret);
        expect(k).not.toContain(secret);
      }
      expect(await inv.hosts()).toEqual([
        {
          record: expect.objectContaining({ id: 'h1', agents: [expect.objectContaining({ passwordRef: 'h1-bmc' })] }),
          maintenance: null,
          intent: null,
        },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
