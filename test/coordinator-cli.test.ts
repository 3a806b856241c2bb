/**
 * The built `vdsm-ts-coordinator` binary (`npm run build` first), run as a process: its client commands against
 * the coordinator's HTTP server on a free port, and `serve` on its own.
 *
 * The server here runs over a fake CoordinatorApi (test/coordinator/fake-api.ts): these tests are about the CLI
 * (argument parsing, what it sends, its output, its exit codes), not about the store behind the API, which is
 * tested against etcd, and the whole service end to end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../src/coordinator/api/api.js';
import { startApiServer, type ApiServer } from '../src/coordinator/api/server.js';
import { CoordinatorMetrics } from '../src/coordinator/observe/metrics.js';
import { FakeCoordinatorApi, haOf, hostViewOf } from './coordinator/fake-api.js';
import { captureLog } from './support/capture-log.js';
import { ROOT } from './support/paths.js';
import { closedPort } from './support/ports.js';
import { alive } from './support/proc-pids.js';
import { killOnExit, stopProcess } from './support/processes.js';
import { runCommand } from './support/run-command.js';
import { waitFor } from './support/wait.js';

/**
 * A bound against a hung process, not a speed claim: a CLI run takes under a second on a quiet machine, but beside
 * the heavy project's clusters (at a higher CPU priority) run 26 saw 7-22 s per run on 2 cores.
 */
const PROCESS_BOUND_MS = 60_000;
vi.setConfig({ testTimeout: 3 * PROCESS_BOUND_MS });

const BIN = join(ROOT, 'dist/cli/vdsm-ts-coordinator.js');
const api = new FakeCoordinatorApi();
const dir = mkdtempSync(join(tmpdir(), 'coordinator-cli-'));
let server: ApiServer;
let url: string;

beforeAll(async () => {
  server = await startApiServer({ api, metrics: new CoordinatorMetrics() }, { port: 0, log: captureLog().log });
  url = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  api.follow.end();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  api.calls = [];
  api.failNext = null;
});

/** The binary with --url pointing at the test server; only PATH and `env` in its environment (no $USER unless given). */
const cli = (args: string[], env: Record<string, string> = { USER: 'tester' }) =>
  runCommand(process.execPath, [BIN, ...args, '--url', url], {
    env: { PATH: process.env.PATH, ...env },
    timeoutMs: PROCESS_BOUND_MS,
  });

describe('hosts', () => {
  const HOSTS = [
    hostViewOf('h1', { ha: null, vms: 3 }),
    hostViewOf('h2', { ha: haOf({ configured: false }) }),
    hostViewOf('h3', { ha: haOf({ score: 3400 }) }),
    hostViewOf('h4', { ha: haOf({ active: false, localMaintenance: true, globalMaintenance: true }) }),
    hostViewOf('h5', {
      ha: haOf({ globalMaintenance: true, localMaintenance: true }),
      maintenance: true,
      state: 'Maintenance',
    }),
    hostViewOf('h6', { ha: haOf({ localMaintenance: true }), maintenance: true, state: 'Maintenance' }),
    hostViewOf('h7', { ha: haOf({ localMaintenance: true, score: 0 }) }),
    hostViewOf('h8', { ha: haOf({ score: 2400 }), maintenance: true, state: 'Maintenance' }),
    hostViewOf('h9', { state: 'NonResponsive', ha: haOf({ active: false }) }),
  ];

  it("prints each host's state and the engine's HA line, and flags HA maintenance out of sync", async () => {
    api.hostsAnswer = HOSTS;
    const r = await cli(['hosts']);
    expect(r.code, r.stderr).toBe(0);
    const line = (id: string) => r.stdout.split('\n').find((l) => l.startsWith(`${id} `))!;
    expect(r.stdout.split('\n')[0]).toMatch(/^HOST +STATE +CLUSTER +ADDRESS +VMS +HOSTED ENGINE HA$/);
    expect(line('h1')).toMatch(/^h1 +Up +Default +192\.0\.2\.1:54321 +3$/);
    expect(line('h2')).toMatch(/^h2 +Up +Default +192\.0\.2\.2:54321 +0$/);
    expect(line('h3')).toMatch(/ Hosted Engine HA: Active \(score 3400\)$/);
    expect(line('h4')).toMatch(/ Hosted Engine HA: Not Active {2}\(HA maintenance out of sync: .*\)$/);
    expect(line('h5')).toMatch(/^h5 +Maintenance .* Hosted Engine HA: Global Maintenance Enabled$/);
    expect(line('h6')).toMatch(/^h6 +Maintenance .* Hosted Engine HA: Local Maintenance Enabled$/);
    expect(line('h7')).toMatch(
      /^h7 +Up .* Hosted Engine HA: Local Maintenance Enabled {2}\(HA maintenance out of sync: coordinator not in maintenance, HA local maintenance on\)$/,
    );
    expect(line('h8')).toMatch(
      /^h8 +Maintenance .* Hosted Engine HA: Active \(score 2400\) {2}\(HA maintenance out of sync: coordinator in maintenance, HA local maintenance off\)$/,
    );
    expect(line('h9')).toMatch(/^h9 +NonResponsive .* Hosted Engine HA: Not Active$/);
    expect(r.stdout.match(/out of sync/g)).toHaveLength(3);
  });

  it('--json prints the hosts with their HA line and out-of-sync flag, as JSON', async () => {
    api.hostsAnswer = HOSTS;
    const r = await cli(['hosts', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const hosts = JSON.parse(r.stdout) as { id: string; haLine: string | null; haMaintenanceOutOfSync: boolean }[];
    expect(hosts.map((h) => [h.id, h.haLine, h.haMaintenanceOutOfSync])).toEqual([
      ['h1', null, false],
      ['h2', null, false],
      ['h3', 'Hosted Engine HA: Active (score 3400)', false],
      ['h4', 'Hosted Engine HA: Not Active', true],
      ['h5', 'Hosted Engine HA: Global Maintenance Enabled', false],
      ['h6', 'Hosted Engine HA: Local Maintenance Enabled', false],
      ['h7', 'Hosted Engine HA: Local Maintenance Enabled', true],
      ['h8', 'Hosted Engine HA: Active (score 2400)', true],
      ['h9', 'Hosted Engine HA: Not Active', false],
    ]);
  });
});

describe('status, vms, events', () => {
  it('status --json prints the API answer; status alone a summary', async () => {
    const json = await cli(['status', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(api.statusAnswer);
    const text = await cli(['status']);
    expect(text.stdout).toMatch(/^replica +coord-a \(leader, epoch 7\)$/m);
    expect(text.stdout).toMatch(/^hosts +3: Up 2, NonResponsive 1$/m);
  });

  it('vms prints one line per VM', async () => {
    api.vmsAnswer = [
      { id: 'v1', name: 'web', state: 'running', owner: 'h2', ha: true, priority: 90, memMiB: 1024, everUp: true },
    ];
    const r = await cli(['vms']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^v1 +web +running +h2 +yes +90 +1024 MiB$/m);
  });

  it('events passes --since and --limit and prints one event per line', async () => {
    api.eventsAnswer = [
      {
        seq: 6,
        time: '2026-12-05T14:00:06.000Z',
        host: 'h1',
        kind: 'guard',
        guard: 'partition',
        alert: true,
        text: 'no fence',
      },
    ];
    const r = await cli(['events', '--since', '5', '--limit', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(api.calls).toEqual([{ op: 'events', args: [{ since: 5, limit: 2 }] }]);
    expect(r.stdout).toBe('6 2026-12-05T14:00:06.000Z h1 guard/partition ALERT: no fence\n');
  });

  it('events --follow prints the streamed events as they come, as JSON lines with --json', async () => {
    const run = cli(['events', '--follow', '--since', '9', '--json']);
    await waitFor('the follower connected', () => api.calls.some((c) => c.op === 'followEvents'), 15_000, 50);
    const ev = { seq: 10, time: '2026-12-05T14:00:10.000Z', kind: 'vm' as const, alert: false, text: 'v1 Up on h2' };
    api.follow.push(ev);
    api.follow.push({ ...ev, seq: 11, text: 'v2 Up on h2' });
    api.follow.end();
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect(api.calls).toContainEqual({ op: 'followEvents', args: [{ since: 9 }] });
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
    ).toEqual([10, 11]);
  });
});

describe('changes', () => {
  it('host add sends the inventory record built from its flags, and who asks ($SUDO_USER before $USER)', async () => {
    const r = await cli(
      [
        'host',
        'add',
        'h1',
        '--address',
        '192.0.2.1',
        '--port',
        '54322',
        '--cluster',
        'rack1',
        '--agent',
        'type=ipmilan,address=192.0.2.101,username=admin,password-ref=h1-bmc,order=1,option=lanplus=1,option=ipport=623',
        '--agent',
        'type=apc_snmp,address=192.0.2.200,plug=4,order=2',
        '--ssh-user',
        'root',
        '--ssh-port',
        '2222',
        '--ssh-host-key',
        `SHA256:${'b'.repeat(43)}`,
        '--ssh-key-ref',
        'fence-key',
        '--storage-host-id',
        '3b0c1a52-9f0e-4a8f-9d2b-1c2d3e4f5a6b=2',
        '--proxy-preference',
        'dc,cluster',
      ],
      { USER: 'tester', SUDO_USER: 'alice' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('addHost queued\n');
    expect(api.calls).toEqual([
      {
        op: 'addHost',
        args: [
          {
            id: 'h1',
            address: '192.0.2.1',
            port: 54322,
            cluster: 'rack1',
            agents: [
              {
                name: 'ipmilan-1',
                type: 'ipmilan',
                address: '192.0.2.101',
                plug: '',
                username: 'admin',
                passwordRef: 'h1-bmc',
                options: { lanplus: '1', ipport: '623' },
                secure: false,
                order: 1,
              },
              {
                name: 'apc_snmp-2',
                type: 'apc_snmp',
                address: '192.0.2.200',
                plug: '4',
                username: '',
                options: {},
                secure: false,
                order: 2,
              },
            ],
            ssh: {
              user: 'root',
              port: 2222,
              hostKeySha256: `SHA256:${'b'.repeat(43)}`,
              keyRef: 'fence-key',
              command: '/usr/bin/vdsm-tool service-restart vdsmd',
            },
            storageHostIds: { '3b0c1a52-9f0e-4a8f-9d2b-1c2d3e4f5a6b': 2 },
            proxyPreference: ['dc', 'cluster'],
          },
          'alice',
        ],
      },
    ]);
  });

  it('host add refuses a password on the command line (exit 2) without repeating it', async () => {
    const r = await cli(['host', 'add', 'h1', '--address', 'a', '--agent', 'type=ipmilan,address=b,password=hunter2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a password never goes on the command line.*password-ref=NAME/);
    expect(r.stderr + r.stdout).not.toContain('hunter2');
    expect(api.calls).toEqual([]);
  });

  it.each<[string[], string, unknown[]]>([
    [['host', 'maintenance', 'h1', '--keep-vms'], 'setMaintenance', ['h1', { on: true, keepVms: true }, 'tester']],
    [['host', 'maintenance', 'h1'], 'setMaintenance', ['h1', { on: true, keepVms: false }, 'tester']],
    [
      ['host', 'activate', 'h1', '--by', 'ops team'],
      'setMaintenance',
      ['h1', { on: false, keepVms: false }, 'ops team'],
    ],
    [['host', 'remove', 'h1'], 'removeHost', ['h1', 'tester']],
    [['ha', 'global-maintenance', 'on'], 'setGlobalMaintenance', [true, 'tester']],
    [['ha', 'global-maintenance', 'off'], 'setGlobalMaintenance', [false, 'tester']],
    [['vm', 'start', 'web', '--host', 'h2'], 'startVm', ['web', { host: 'h2' }, 'tester']],
    [['vm', 'start', 'web'], 'startVm', ['web', {}, 'tester']],
    [['vm', 'stop', 'web'], 'stopVm', ['web', 'tester']],
    [['vm', 'remove', 'web'], 'removeVm', ['web', 'tester']],
  ])('%j calls %s', async (args, op, expected) => {
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(api.calls).toEqual([{ op, args: expected }]);
  });

  it('vm define sends the XML file, the HA flag and the priority; --json prints the answer', async () => {
    const xml = join(dir, 'web.xml');
    writeFileSync(xml, '<domain type="kvm"><name>web</name></domain>\n');
    const r = await cli(['vm', 'define', '--xml', xml, '--ha', '--priority', '80', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ detail: 'defineVm queued' });
    expect(api.calls).toEqual([
      {
        op: 'defineVm',
        args: [{ xml: '<domain type="kvm"><name>web</name></domain>\n', ha: true, priority: 80 }, 'tester'],
      },
    ]);
  });

  it('confirm-rebooted without --yes warns that the VMs would run twice and refuses (exit 1)', async () => {
    const r = await cli(['confirm-rebooted', 'h1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/WARNING: .*h1.*run twice/);
    expect(r.stderr).toMatch(/--yes/);
    expect(api.calls).toEqual([]);
  });

  it('confirm-rebooted --yes records who confirmed (--by)', async () => {
    const r = await cli(['confirm-rebooted', 'h1', '--yes', '--by', 'carol']);
    expect(r.code, r.stderr).toBe(0);
    expect(api.calls).toEqual([{ op: 'confirmRebooted', args: ['h1', 'carol'] }]);
  });

  it("exits 1 with the coordinator's reason when it refuses", async () => {
    api.failNext = new ApiError('refused', 'h1 is Up: confirm-rebooted needs NonResponsive or a failed fence');
    const r = await cli(['confirm-rebooted', 'h1', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').at(-2)).toBe(
      'vdsm-ts-coordinator: h1 is Up: confirm-rebooted needs NonResponsive or a failed fence',
    );
  });
});

describe('usage and failures', () => {
  it.each<[string[], RegExp]>([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['host'], /'host': host add HOST \| host remove HOST/],
    [['vm', 'stop'], /usage: vdsm-ts-coordinator vm stop VM/],
    [['hosts', '--keep-vms'], /--keep-vms does not apply to 'hosts'/],
    [['hosts', '--bogus'], /Unknown option '--bogus'/],
    [['ha', 'global-maintenance', 'maybe'], /on or off, not "maybe"/],
    [['vm', 'define', '--xml', '/nonexistent/x.xml'], /cannot read --xml .*ENOENT/],
    [['vm', 'define', '--xml', '/dev/null', '--priority', '101'], /--priority must be from 0 to 100/],
    [['host', 'add', 'h1'], /needs --address/],
    [['host', 'add', 'h1', '--address', 'a', '--ssh-user', 'root'], /needs both --ssh-host-key/],
    [['host', 'add', 'h1', '--address', 'a', '--agent', 'type=ipmilan,address=b,colour=red'], /unknown key "colour"/],
    [['host', 'add', 'h1', '--address', 'a', '--agent', 'type=ipmilan'], /host\.agents\.0\.address/],
  ])('%j exits 2', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(api.calls).toEqual([]);
  });

  it('a hostile argument is refused as usage and never reaches a shell', async () => {
    const marker = join(dir, 'pwned');
    for (const args of [
      ['vm', 'start', `web;touch ${marker}`],
      ['host', 'maintenance', `$(touch ${marker})`],
      ['confirm-rebooted', 'h1', '--yes', '--by', `\`touch ${marker}\``],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(existsSync(marker)).toBe(false);
    expect(api.calls).toEqual([]);
  });

  it('exits 1 when the coordinator cannot be reached, and 2 for a URL with credentials', async () => {
    const port = await closedPort();
    const r = await runCommand(process.execPath, [BIN, 'hosts', '--url', `http://127.0.0.1:${port}`], {
      timeoutMs: PROCESS_BOUND_MS,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the coordinator at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    const creds = await runCommand(process.execPath, [BIN, 'hosts', '--url', 'http://admin:pw@127.0.0.1:1'], {
      timeoutMs: PROCESS_BOUND_MS,
    });
    expect(creds.code).toBe(2);
    expect(creds.stderr).toMatch(/must not carry credentials/);
    expect(creds.stderr).not.toContain('pw@');
  });

  it('takes its URL from the config file when --url is not given', async () => {
    const conf = join(dir, 'coordinator.conf');
    writeFileSync(conf, `[api]\nlisten = 127.0.0.1\nport = ${server.port}\n`);
    const r = await runCommand(process.execPath, [BIN, 'status', '--json', '--config', conf], {
      timeoutMs: PROCESS_BOUND_MS,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).replica).toBe('coord-a');
  });
});

describe('serve', () => {
  let child: ChildProcess | undefined;
  afterAll(() => stopProcess(child));

  it('runs a replica on its own etcd (data where the config says), leads, and exits 0 on SIGTERM with etcd stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vts-serve-'));
    const conf = join(dir, 'c.conf');
    writeFileSync(
      conf,
      `[etcd]\ndata_dir = ${join(dir, 'etcd')}\n[coordinator]\nname = cli-test\nttl = 2\nsecrets_dir = ${dir}\n[hosts]\ntls = false\n`,
    );
    try {
      child = spawn(process.execPath, [BIN, 'serve', '--config', conf, '--listen', '127.0.0.1', '--port', '0'], {
        env: { PATH: process.env.PATH },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      killOnExit(child);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const port = await waitFor(
        'the API listening line',
        () => /"port":(\d+).*coordinator API listening/.exec(out)?.[1],
        PROCESS_BOUND_MS,
        50,
      );
      const etcdPid = Number(/"pid":(\d+),"endpoint":"[^"]*","msg":"embedded etcd started"/.exec(out)?.[1]);
      expect(etcdPid).toBeGreaterThan(0);
      const health = await waitFor(
        'the replica leading',
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/health`);
          const body = (await r.json()) as { role: string };
          return r.status === 200 && body.role === 'leader' ? body : undefined;
        },
        PROCESS_BOUND_MS,
        200,
      );
      expect(health).toMatchObject({ ok: true, role: 'leader', etcd: true });
      expect(readdirSync(join(dir, 'etcd'))).toContain('etcd'); // the member's data, under the configured directory
      const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(alive(etcdPid)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad port as usage (exit 2)', async () => {
    const r = await runCommand(process.execPath, [BIN, 'serve', '--port', '70000'], { timeoutMs: PROCESS_BOUND_MS });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the API port must be a number from 0 to 65535, not "70000" \(--port\)/);
  });
});
