/**
 * The coordinator's HTTP layer (src/coordinator/api/) and its metrics (src/coordinator/observe/).
 *
 * The API runs over a fake CoordinatorApi (test/coordinator/fake-api.ts) here, and only for what the HTTP layer
 * itself claims: validation (400, naming the field), 404/405, each route calling the right operation with the
 * right arguments, the server serving on after bad input, /metrics in Prometheus' text format, the follow stream
 * delivering lines as they come. The store's implementation of CoordinatorApi on etcd is tested against etcd, and
 * the whole service end to end.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../src/coordinator/api/api.js';
import { ROUTES } from '../src/coordinator/api/catalogue.js';
import { renderCoordinatorApiDoc } from '../src/coordinator/api/docs.js';
import type { EventView } from '../src/coordinator/api/schemas.js';
import { startApiServer, type ApiServer } from '../src/coordinator/api/server.js';
import type { CoordinatorEnv } from '../src/coordinator/core/env.js';
import { restoreState, type CoreState, type StepResult } from '../src/coordinator/core/step.js';
import type { VmRecord } from '../src/coordinator/core/types.js';
import { instrumentEnv } from '../src/coordinator/observe/instrument-env.js';
import { CoordinatorMetrics } from '../src/coordinator/observe/metrics.js';
import { FakeCoordinatorApi } from './coordinator/fake-api.js';
import { captureLog } from './support/capture-log.js';
import { waitFor } from './support/wait.js';

const api = new FakeCoordinatorApi();
const metrics = new CoordinatorMetrics();
const logs = captureLog();
let server: ApiServer;
let base: string;

beforeAll(async () => {
  server = await startApiServer({ api, metrics }, { port: 0, log: logs.log });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  api.follow.end();
  await server?.close();
});
beforeEach(() => {
  api.calls = [];
  api.failNext = null;
  api.rawAnswer = undefined;
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : {
          body: typeof body === 'string' ? body : JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

const XML = '<domain type="kvm"><name>web</name></domain>';
const KEY = `SHA256:${'A'.repeat(43)}`;

describe('each route calls its operation with the request arguments', () => {
  const cases: [string, string, unknown, string, unknown[]][] = [
    ['GET', '/status', undefined, 'status', []],
    ['GET', '/hosts', undefined, 'hosts', []],
    ['GET', '/vms', undefined, 'vms', []],
    ['GET', '/events', undefined, 'events', [{ limit: 100 }]],
    ['GET', '/events?since=12&limit=5', undefined, 'events', [{ since: 12, limit: 5 }]],
    [
      'POST',
      '/hosts',
      {
        id: 'h1',
        address: '192.0.2.1',
        agents: [
          { name: 'bmc', type: 'ipmilan', address: '192.0.2.101', passwordRef: 'h1-bmc', options: { lanplus: '1' } },
        ],
        ssh: { hostKeySha256: KEY, keyRef: 'fence-key' },
        by: 'alice',
      },
      'addHost',
      [
        {
          id: 'h1',
          address: '192.0.2.1',
          port: 54321,
          cluster: 'Default',
          agents: [
            {
              name: 'bmc',
              type: 'ipmilan',
              address: '192.0.2.101',
              plug: '',
              username: '',
              passwordRef: 'h1-bmc',
              options: { lanplus: '1' },
              secure: false,
              order: 1,
            },
          ],
          ssh: {
            user: 'root',
            port: 22,
            hostKeySha256: KEY,
            keyRef: 'fence-key',
            command: '/usr/bin/vdsm-tool service-restart vdsmd',
          },
          storageHostIds: {},
          proxyPreference: ['cluster', 'dc'],
        },
        'alice',
      ],
    ],
    ['DELETE', '/hosts/h1?by=alice', undefined, 'removeHost', ['h1', 'alice']],
    [
      'POST',
      '/hosts/h1/maintenance',
      { on: true, by: 'bob' },
      'setMaintenance',
      ['h1', { on: true, keepVms: false }, 'bob'],
    ],
    [
      'POST',
      '/hosts/h1/maintenance',
      { on: true, keepVms: true, by: 'bob' },
      'setMaintenance',
      ['h1', { on: true, keepVms: true }, 'bob'],
    ],
    [
      'POST',
      '/hosts/h1/maintenance',
      { on: false, by: 'bob' },
      'setMaintenance',
      ['h1', { on: false, keepVms: false }, 'bob'],
    ],
    ['POST', '/hosts/h2/confirm-rebooted', { by: 'carol' }, 'confirmRebooted', ['h2', 'carol']],
    ['POST', '/ha/global-maintenance', { on: true, by: 'dave' }, 'setGlobalMaintenance', [true, 'dave']],
    ['POST', '/vms', { xml: XML, by: 'erin' }, 'defineVm', [{ xml: XML, ha: false, priority: 50 }, 'erin']],
    [
      'POST',
      '/vms',
      { xml: XML, ha: true, priority: 90, by: 'erin' },
      'defineVm',
      [{ xml: XML, ha: true, priority: 90 }, 'erin'],
    ],
    ['POST', '/vms/web/start', { by: 'erin' }, 'startVm', ['web', {}, 'erin']],
    ['POST', '/vms/web/start', { host: 'h2', by: 'erin' }, 'startVm', ['web', { host: 'h2' }, 'erin']],
    ['POST', '/vms/web/stop', { by: 'erin' }, 'stopVm', ['web', 'erin']],
    ['DELETE', '/vms/web?by=erin', undefined, 'removeVm', ['web', 'erin']],
  ];
  it.each(cases)('%s %s', async (method, path, body, op, args) => {
    const r = await call(method, path, body);
    expect(r.status, r.text).toBe(method === 'GET' ? 200 : 202);
    expect(api.calls).toEqual([{ op, args }]);
    if (method !== 'GET') expect(r.json).toEqual({ detail: `${op} queued` });
  });
});

describe('bad input: 400 naming the field, and the operation is never called', () => {
  const cases: [string, string, string, unknown, RegExp][] = [
    [
      'a maintenance flag that is not a boolean',
      'POST',
      '/hosts/h1/maintenance',
      { on: 'yes', by: 'bob' },
      /body\.on: /,
    ],
    ['no `by`', 'POST', '/hosts/h1/confirm-rebooted', {}, /body\.by: /],
    ['a priority above 100', 'POST', '/vms', { xml: XML, priority: 101, by: 'x' }, /body\.priority: .*100/],
    ['a host id with a slash', 'POST', '/hosts/a%2Fb/maintenance', { on: true, by: 'x' }, /path\.id: a host id/],
    ['an unknown query parameter', 'GET', '/events?limt=5', undefined, /query: Unrecognized key: "limt"/],
    ['a limit of 0', 'GET', '/events?limit=0', undefined, /query\.limit: /],
    ['a since that is not a number', 'GET', '/events?since=yesterday', undefined, /query\.since: a whole number/],
    ['a host without an address', 'POST', '/hosts', { id: 'h1', by: 'x' }, /body\.address: /],
    ['a `by` that could forge a log line', 'POST', '/vms/web/stop', { by: 'x\nadmin' }, /body\.by: a name/],
    ['a start on a bad host id', 'POST', '/vms/web/start', { host: '../h', by: 'x' }, /body\.host: a host id/],
  ];
  it.each(cases)('%s', async (_what, method, path, body, message) => {
    const r = await call(method, path, body);
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('bad-request');
    expect(r.json.message).toMatch(message);
    expect(api.calls).toEqual([]);
  });

  it('refuses a password in a fence agent by its key, without repeating the value', async () => {
    const r = await call('POST', '/hosts', {
      id: 'h1',
      address: '192.0.2.1',
      agents: [{ name: 'bmc', type: 'ipmilan', address: '192.0.2.101', password: 'hunter2-secret' }],
      by: 'x',
    });
    expect(r.status).toBe(400);
    expect(r.json.message).toMatch(/body\.agents\.0: Unrecognized key: "password"/);
    expect(r.text).not.toContain('hunter2-secret');
    expect(logs.text()).not.toContain('hunter2-secret');
    expect(api.calls).toEqual([]);
  });

  it('answers a body that is not JSON with 400 without quoting it', async () => {
    const r = await call('POST', '/hosts/h1/confirm-rebooted', 'by=admin&password=hunter2-secret');
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: 'bad-request', message: 'the body is not JSON' });
    expect(r.text).not.toContain('hunter2');
  });

  it('answers a body above 1 MiB with 413', async () => {
    const r = await call('POST', '/vms', { xml: 'x'.repeat(1024 * 1024 + 1), by: 'x' });
    expect(r.status).toBe(413);
    expect(r.json.error).toBe('too-large');
    expect(api.calls).toEqual([]);
  });
});

describe('routes', () => {
  it('answers an unknown path with 404 and a wrong method with 405 and Allow', async () => {
    const missing = await call('GET', '/nodes');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: 'not-found', message: 'no route GET /nodes' });
    const wrong = await call('PUT', '/hosts');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
  });

  it("answers the store's refusal with 409 and its message, unavailable with 503", async () => {
    api.failNext = new ApiError('refused', 'h1 is Up: confirm-rebooted needs NonResponsive or a failed fence');
    const refused = await call('POST', '/hosts/h1/confirm-rebooted', { by: 'x' });
    expect(refused.status).toBe(409);
    expect(refused.json).toEqual({
      error: 'refused',
      message: 'h1 is Up: confirm-rebooted needs NonResponsive or a failed fence',
    });
    api.failNext = new ApiError('unavailable', 'etcd does not answer');
    expect((await call('GET', '/hosts')).status).toBe(503);
  });

  it("answers 500 without the error's text when the implementation fails, and 500 for an answer that does not fit", async () => {
    api.failNext = new Error('connection to 10.0.0.9 lost: token=abc');
    const failed = await call('GET', '/vms');
    expect(failed.status).toBe(500);
    expect(failed.json.error).toBe('internal');
    expect(failed.text).not.toContain('token');
    api.rawAnswer = [{ id: 'v1' }];
    const misfit = await call('GET', '/vms');
    expect(misfit.status).toBe(500);
    expect(misfit.json.message).toMatch(/does not fit its schema/);
  });

  it('/health answers 200 when etcd answers and 503 when not', async () => {
    api.healthAnswer = { ok: true, role: 'follower', epoch: null, etcd: true };
    expect(await call('GET', '/health')).toMatchObject({ status: 200, json: { ok: true, role: 'follower' } });
    api.healthAnswer = { ok: false, role: 'follower', epoch: null, etcd: false };
    expect(await call('GET', '/health')).toMatchObject({ status: 503, json: { ok: false, etcd: false } });
  });

  it('keeps serving after garbage on the socket, bad input and failures', async () => {
    const raw = await new Promise<string>((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => s.write('NOT HTTP AT ALL\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('close', () => resolve(got));
      s.setTimeout(5000, () => s.destroy());
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    await call('POST', '/vms', '{');
    api.failNext = new Error('boom');
    await call('GET', '/hosts');
    api.hostsAnswer = [{ id: 'h9', address: '192.0.2.9', state: 'Up', maintenance: false, vms: 0, ha: null }];
    const after = await call('GET', '/hosts');
    expect(after.status).toBe(200);
    expect(after.json[0].id).toBe('h9');
  });
});

describe('GET /events/follow', () => {
  const ev = (seq: number): EventView => ({
    seq,
    time: new Date(Date.UTC(2026, 11, 5, 14, 0, seq)).toISOString(),
    host: 'h1',
    kind: 'fence',
    alert: false,
    text: `step ${seq}`,
  });

  it('delivers each event as a line when it happens, and tells the source to stop when the client goes', async () => {
    const stop = new AbortController();
    const res = await fetch(`${base}/events/follow?since=3`, { signal: stop.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(api.calls).toEqual([{ op: 'followEvents', args: [{ since: 3 }] }]);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    const nextLine = async () => {
      while (!buffered.includes('\n')) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffered += decoder.decode(value, { stream: true });
      }
      const nl = buffered.indexOf('\n');
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      return JSON.parse(line);
    };
    // Each line is read before the next event exists: the stream is not buffered until its end.
    api.follow.push(ev(4));
    expect(await nextLine()).toEqual(ev(4));
    api.follow.push(ev(5));
    expect(await nextLine()).toEqual(ev(5));
    stop.abort();
    await waitFor('the follower aborted', () => api.followSignal?.aborted, 5000, 20);
  });

  it('refuses a bad `since` before streaming', async () => {
    const r = await call('GET', '/events/follow?since=-1');
    expect(r.status).toBe(400);
    expect(r.json.message).toMatch(/query\.since/);
  });
});

// ------------------------------------------------------------------------------------------------------------
// Metrics

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Prometheus' text exposition format (0.0.4), strictly: every sample belongs to a family declared by HELP and
 * TYPE before it, names and labels follow the grammar, values are numbers, histogram buckets are cumulative and
 * end with +Inf equal to the count. Throws on anything else.
 */
function parseExposition(text: string): Sample[] {
  const families = new Map<string, { type?: string; help?: string }>();
  const samples: Sample[] = [];
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/y;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
    if (meta) {
      const f = families.get(meta[2]!) ?? {};
      if (meta[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!))
          throw new Error(`bad TYPE: ${line}`);
        f.type = meta[3];
      } else f.help = meta[3];
      families.set(meta[2]!, f);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      labelRe.lastIndex = 0;
      while (labelRe.lastIndex < m[2].length) {
        const l = labelRe.exec(m[2]);
        if (!l) throw new Error(`bad labels: ${line}`);
        labels[l[1]!] = l[2]!;
      }
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value: ${line}`);
    const family = families.get(m[1]!) ? m[1]! : m[1]!.replace(/_(bucket|sum|count)$/, '');
    const f = families.get(family);
    if (!f?.type || f.help === undefined) throw new Error(`sample before its HELP and TYPE: ${line}`);
    if (family !== m[1] && f.type !== 'histogram' && f.type !== 'summary')
      throw new Error(`suffix on ${f.type}: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  for (const [family, f] of families) {
    if (f.type !== 'histogram') continue;
    const buckets = samples.filter((s) => s.name === `${family}_bucket`);
    for (let i = 1; i < buckets.length; i++)
      if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${family}: buckets not cumulative`);
    const inf = buckets.find((b) => b.labels.le === '+Inf');
    const count = samples.find((s) => s.name === `${family}_count`);
    if (!inf || !count || inf.value !== count.value) throw new Error(`${family}: +Inf bucket is not the count`);
  }
  return samples;
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

const VM: VmRecord = {
  id: 'v1',
  ha: true,
  priority: 50,
  memMiB: 512,
  owner: 'h1',
  state: 'running',
  everUp: true,
  generation: 1,
  restart: false,
  from: null,
  queuedAt: null,
  attempts: 0,
  nextTryAt: null,
  startSentAt: null,
};

/** A leader's state at `now`, h1 last heard of at 100, then shaped by `shape`. */
function leaderState(shape: (st: CoreState) => void): StepResult {
  const st = restoreState(
    {
      hosts: [
        { id: 'h1', cluster: 'c', agents: [{ name: 'bmc', order: 1 }] },
        { id: 'h2', cluster: 'c', agents: [{ name: 'bmc', order: 1 }] },
      ],
      intents: {},
      vms: [VM],
    },
    100,
  );
  st.epoch = 5;
  st.leaderSince = 0;
  shape(st);
  return { state: st, actions: [], audit: [], log: [] };
}

describe('metrics', () => {
  it('records detection, OFF confirmed and VM Up times, restarts and host states from step results', async () => {
    const m = new CoordinatorMetrics();
    m.recordStep(
      leaderState((st) => (st.hosts.h1!.status = 'Suspect')),
      110,
    );
    m.recordStep(
      leaderState((st) => Object.assign(st.hosts.h1!, { status: 'NonResponsive', since: 125 })),
      125,
    );
    const queued = (st: CoreState) => {
      Object.assign(st.hosts.h1!, { status: 'PowerOffConfirmed', since: 160 });
      Object.assign(st.vms.v1!, { owner: null, state: 'down', restart: true, from: 'h1', queuedAt: 160 });
    };
    m.recordStep(leaderState(queued), 160);
    const starting = (attempts: number) =>
      leaderState((st) => {
        queued(st);
        Object.assign(st.vms.v1!, { owner: 'h2', state: 'starting', attempts });
      });
    m.recordStep(starting(0), 165);
    // Not seen Up in time: a failed try, queued again, then started again.
    m.recordStep(
      leaderState((st) => (queued(st), Object.assign(st.vms.v1!, { attempts: 1 }))),
      170,
    );
    m.recordStep(starting(1), 175);
    m.recordStep(
      leaderState((st) => {
        Object.assign(st.hosts.h1!, { status: 'RecoveringVMs', since: 200 });
        Object.assign(st.vms.v1!, { owner: 'h2', state: 'running', restart: false, from: null, queuedAt: null });
      }),
      200,
    );
    const s = parseExposition(await m.text());
    expect(value(s, 'vdsm_ts_coordinator_nonresponsive_seconds_sum')).toBe(25);
    expect(value(s, 'vdsm_ts_coordinator_nonresponsive_seconds_count')).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_off_confirmed_seconds_sum')).toBe(60);
    expect(value(s, 'vdsm_ts_coordinator_vm_up_seconds_sum')).toBe(100);
    expect(value(s, 'vdsm_ts_coordinator_vm_up_seconds_bucket', { le: '90' })).toBe(0);
    expect(value(s, 'vdsm_ts_coordinator_vm_up_seconds_bucket', { le: '120' })).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_vm_restarts_total', { outcome: 'failed' })).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_vm_restarts_total', { outcome: 'up' })).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_hosts', { state: 'RecoveringVMs' })).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_hosts', { state: 'Up' })).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_hosts', { state: 'NonResponsive' })).toBe(0);
  });

  it("does not take a new leader's restored state for transitions, and shows no host states once not leader", async () => {
    const m = new CoordinatorMetrics();
    m.recordStep(
      leaderState((st) => Object.assign(st.hosts.h1!, { status: 'NonResponsive', since: 150 })),
      150,
    );
    const off = leaderState((st) => Object.assign(st.hosts.h1!, { status: 'PowerOffConfirmed', since: 160 }));
    off.state.epoch = 6;
    m.recordStep(off, 160);
    let s = parseExposition(await m.text());
    expect(value(s, 'vdsm_ts_coordinator_nonresponsive_seconds_count')).toBe(0);
    expect(value(s, 'vdsm_ts_coordinator_off_confirmed_seconds_count')).toBe(0);
    expect(value(s, 'vdsm_ts_coordinator_hosts', { state: 'PowerOffConfirmed' })).toBe(1);
    const lost = leaderState(() => undefined);
    lost.state.epoch = null;
    m.recordStep(lost, 170);
    s = parseExposition(await m.text());
    expect(s.filter((x) => x.name === 'vdsm_ts_coordinator_hosts').every((x) => x.value === 0)).toBe(true);
  });

  it('counts leadership, power actions and SSH restarts as the Env answers them; other calls pass through', async () => {
    const m = new CoordinatorMetrics();
    let fenceAnswer: 'off' | 'boom' = 'off';
    const env = instrumentEnv(
      {
        now: () => 42,
        leadership: async () => ({ epoch: 9, since: 0 }),
        fence: async () => {
          if (fenceAnswer === 'boom') throw new Error('proxy gone');
          return fenceAnswer;
        },
        sshRestart: async () => ({ ok: false, detail: 'exit 1' }),
      } as unknown as CoordinatorEnv,
      m,
    );
    expect(env.now()).toBe(42);
    await env.leadership();
    await env.fence('h2', 'h1', { name: 'bmc', order: 1 }, 'off', 9);
    fenceAnswer = 'boom';
    await expect(env.fence('h2', 'h1', { name: 'bmc', order: 1 }, 'status', 9)).rejects.toThrow('proxy gone');
    await env.sshRestart('h1');
    const s = parseExposition(await m.text());
    expect(value(s, 'vdsm_ts_coordinator_leader')).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_leader_epoch')).toBe(9);
    expect(value(s, 'vdsm_ts_coordinator_fence_actions_total', { kind: 'off', outcome: 'off' })).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_fence_actions_total', { kind: 'status', outcome: 'error' })).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_fence_actions_total', { kind: 'ssh', outcome: 'failed' })).toBe(1);
  });

  it('GET /metrics serves the registry in the Prometheus text format', async () => {
    metrics.recordLeadership({ epoch: 3 });
    metrics.recordFence('on', 'on');
    const r = await call('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const s = parseExposition(r.text);
    expect(value(s, 'vdsm_ts_coordinator_leader_epoch')).toBe(3);
    expect(value(s, 'vdsm_ts_coordinator_fence_actions_total', { kind: 'on', outcome: 'on' })).toBe(1);
    expect(value(s, 'vdsm_ts_coordinator_hosts', { state: 'Up' })).toBe(0);
  });

  it('the exposition check refuses what is not Prometheus text', () => {
    expect(() => parseExposition('vdsm_x 1\n')).toThrow(/before its HELP/);
    expect(() => parseExposition('# HELP a x\n# TYPE a gauge\na{l=unquoted} 1\n')).toThrow(/bad labels/);
    expect(() => parseExposition('# HELP a x\n# TYPE a gauge\na one\n')).toThrow(/bad value/);
  });
});

describe('docs/coordinator-api.md', () => {
  it('is what the route catalogue generates (run `npm run docs` after changing a route)', () => {
    expect(readFileSync(new URL('../docs/coordinator-api.md', import.meta.url), 'utf8')).toBe(
      renderCoordinatorApiDoc(ROUTES),
    );
  });

  it('documents every route with its body fields', () => {
    const doc = renderCoordinatorApiDoc(ROUTES);
    for (const r of ROUTES) expect(doc).toContain(`## ${r.method} ${r.path}\n`);
    expect(doc).toMatch(/- `keepVms` \(boolean, optional\)/);
  });
});
