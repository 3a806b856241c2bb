/**
 * Hosted-engine HA on real processes: three "hosts" on this machine, each with its own vdsmd (libvirt's test
 * driver, so the engine VM is a real libvirt domain inside that vdsmd), HA broker and HA agent, sharing one
 * whiteboard file and one lease file. Kill the running host's processes and another host starts the engine VM;
 * set global maintenance with the CLI and every host honours it. Timings are scaled down (1 s ticks).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VdsmClient } from '../src/rpc/client.js';
import { runHostedEngine, spawnHeDaemon, stopProcess } from './support/processes.js';
import { waitFor } from './support/wait.js';
import { startVdsmdProcess, type VdsmdProcess } from './support/vdsmd-process.js';
import { engineDomainXml } from './support/vm-xml.js';

const dir = mkdtempSync(join(tmpdir(), 'he-cluster-'));
const { uuid: VM_ID, xml } = engineDomainXml({ name: 'HostedEngine' });
let health: http.Server;

interface Host {
  id: number;
  conf: string;
  vdsmd: VdsmdProcess;
  client: VdsmClient;
  broker: ChildProcess;
  agent: ChildProcess;
  dead: boolean;
}
const hosts: Host[] = [];
let maxRunning = 0;
let watching = true;
let watcher: Promise<void>;

const cli = (conf: string, ...args: string[]) => runHostedEngine(['--conf', conf, ...args]);

async function runningOn(): Promise<number[]> {
  const on: number[] = [];
  for (const h of hosts) {
    if (h.dead) continue;
    const list = (await h.client.call('Host.getVMList', {}, { timeoutMs: 5000 }).catch(() => [])) as { vmId: string; status: string }[];
    if (list.some((v) => v.vmId === VM_ID && v.status !== 'Down')) on.push(h.id);
  }
  return on;
}

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number) => waitFor(what, probe, timeoutMs, 250);

async function vmStatus(h: Host): Promise<Record<string, any>> {
  const r = await cli(h.conf, '--vm-status', '--json');
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  health = http.createServer((_req, res) => res.end('DB Up!Welcome to Health Status!')).listen(0, '127.0.0.1');
  await new Promise((r) => health.once('listening', r));
  const healthPort = (health.address() as { port: number }).port;
  writeFileSync(join(dir, 'engine.xml'), xml);
  for (const id of [1, 2, 3]) {
    const conf = join(dir, `host${id}.conf`);
    const vdsmd = await startVdsmdProcess({ args: ['--guest-wait-timeout', '1', '--vm-sample-interval', '1'], env: { VDSM_HE_CONF: conf } });
    writeFileSync(
      conf,
      [
        `host_id=${id}`,
        `vmid=${VM_ID}`,
        `vm_xml=${join(dir, 'engine.xml')}`,
        `metadata=${join(dir, 'hosted-engine.metadata')}`,
        `lockspace=${join(dir, 'hosted-engine.lockspace')}`,
        'lock=file',
        'network_test=tcp',
        'gateway=127.0.0.1',
        `tcp_t_port=${healthPort}`,
        'bridge=lo',
        `health_url=http://127.0.0.1:${healthPort}/ovirt-engine/services/health`,
        'vdsm_host=127.0.0.1',
        `vdsm_port=${vdsmd.port}`,
        'vdsm_ssl=false',
        `broker_socket=${join(dir, `broker${id}.sock`)}`,
        `state_dir=${join(dir, `state${id}`)}`,
        // Scaled timings: 1 s ticks, 5 s alive window, a 6 s lease.
        'monitor_interval=0.5',
        'loop_delay=1',
        'host_alive_timeout=5',
        'stats_history=60',
        'lease_timeout=6',
        'engine_maybe_away_timeout=4',
        'vm_unexpected_shutdown_timeout=30',
        'engine_bad_health_timeout=20',
        'engine_stop_timeout=10',
        'engine_starting_timeout=60',
        'shutdown_delay=1',
        'engine_memory_mib=256',
      ].join('\n'),
    );
    const client = await VdsmClient.connect({ host: '127.0.0.1', port: vdsmd.port });
    const broker = spawnHeDaemon('he-broker', conf);
    hosts.push({ id, conf, vdsmd, client, broker, agent: undefined as never, dead: false });
  }
  // Agents once every broker listens.
  for (const h of hosts) {
    await until(`broker ${h.id}`, async () => ((await cli(h.conf, '--vm-status', '--json')).code === 0 ? true : undefined), 10_000);
    h.agent = spawnHeDaemon('he-agent', h.conf);
  }
  watcher = (async () => {
    while (watching) {
      maxRunning = Math.max(maxRunning, (await runningOn()).length);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
}, 60_000);


afterAll(async () => {
  watching = false;
  await watcher;
  // Agents first (their last publish needs the broker), then brokers, then vdsmd.
  await Promise.all(hosts.map((h) => stopProcess(h.agent)));
  await Promise.all(hosts.map((h) => stopProcess(h.broker)));
  for (const h of hosts) {
    await h.client.close().catch(() => {});
    await h.vdsmd.stop();
  }
  health.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('hosted-engine HA across three real hosts', () => {
  it('one host starts the engine VM; all see it up and healthy', async () => {
    const first = await until('the engine VM up on one host', async () => {
      const on = await runningOn();
      return on.length === 1 ? on[0] : undefined;
    }, 40_000);
    const owner = hosts.find((h) => h.id === first)!;
    const status = await until('a healthy engine in --vm-status', async () => {
      const s = await vmStatus(owner);
      return s[String(first)]?.['engine-status']?.health === 'good' ? s : undefined;
    }, 30_000);
    // 3400 less at most the CPU-load penalty (1000): other test files may load this machine meanwhile.
    expect(status[String(first)]).toMatchObject({ 'live-data': true, 'engine-status': { vm: 'up', health: 'good', detail: 'Up' } });
    expect(status[String(first)].score).toBeGreaterThanOrEqual(2400);
    for (const h of hosts) expect(status[String(h.id)]?.['live-data'], `host ${h.id}`).toBe(true);
    // vdsmd reports the HA state to the engine as vdsm does.
    const stats = (await owner.client.call('Host.getStats')) as { haStats: unknown; haScore: number };
    expect(stats.haStats).toEqual({ configured: true, active: true, score: stats.haScore, globalMaintenance: false, localMaintenance: false });
    expect(stats.haScore).toBeGreaterThanOrEqual(2400);
  }, 90_000);

  it('killing the running host (vdsmd, broker, agent) moves the engine VM to another host', async () => {
    const [victimId] = await runningOn();
    const victim = hosts.find((h) => h.id === victimId)!;
    const killedAt = Date.now();
    victim.dead = true;
    for (const p of [victim.agent, victim.broker, victim.vdsmd.child]) p.kill('SIGKILL');
    const next = await until('the engine VM on another host', async () => {
      const on = await runningOn();
      return on.length === 1 && on[0] !== victimId ? on[0] : undefined;
    }, 60_000);
    const survivor = hosts.find((h) => h.id === next)!;
    await until('the engine healthy again', async () => {
      const s = await vmStatus(survivor);
      return s[String(next)]?.['engine-status']?.health === 'good' ? true : undefined;
    }, 30_000);
    console.log(`he-cluster: host ${victimId} killed → engine VM healthy on host ${next} after ${Date.now() - killedAt} ms`);
    const s = await vmStatus(survivor);
    expect(s[String(victimId)]['live-data']).toBe(false);
    expect((await cli(survivor.conf, '--vm-status')).stdout).toMatch(new RegExp(`Engine status\\s+: unknown stale-data`));
  }, 120_000);

  it('global maintenance set with the CLI: every live host honours it; nobody restarts a stopped engine VM', async () => {
    const live = hosts.filter((h) => !h.dead);
    const [ownerId] = await runningOn();
    const owner = live.find((h) => h.id === ownerId)!;
    const other = live.find((h) => h.id !== ownerId)!;
    expect((await cli(other.conf, '--set-maintenance', '--mode=global')).code).toBe(0);
    await until('every live agent in GlobalMaintenance', async () => {
      const s = await vmStatus(other);
      return live.every((h) => String(s[String(h.id)]?.extra).includes('state=GlobalMaintenance')) && s.global_maintenance === true ? true : undefined;
    }, 20_000);
    expect((await cli(other.conf, '--vm-status')).stdout).toContain('!! Cluster is in GLOBAL MAINTENANCE mode !!');
    const stats = (await other.client.call('Host.getStats')) as { haStats: { globalMaintenance: boolean } };
    expect(stats.haStats.globalMaintenance).toBe(true);

    // Power the engine VM off by hand: in global maintenance nobody brings it back.
    expect((await cli(owner.conf, '--vm-poweroff')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 8000));
    expect(await runningOn()).toEqual([]);

    expect((await cli(other.conf, '--set-maintenance', '--mode=none')).code).toBe(0);
    await until('the engine VM started again after maintenance', async () => ((await runningOn()).length === 1 ? true : undefined), 40_000);
  }, 120_000);

  it('never ran the engine VM on two hosts at once', () => {
    expect(maxRunning).toBe(1);
  });

  it('refuses local maintenance on the host that runs the engine VM, and bad modes', async () => {
    const [ownerId] = await runningOn();
    const owner = hosts.find((h) => h.id === ownerId)!;
    const local = await cli(owner.conf, '--set-maintenance', '--mode=local');
    expect(local.code).toBe(1);
    expect(local.stdout).toMatch(/engine VM is running on the current host/);
    const bad = await cli(owner.conf, '--set-maintenance', '--mode=sideways');
    expect([bad.code, bad.stderr.trim()]).toEqual([1, "Invalid value 'sideways' for --mode"]);
  }, 30_000);
});
