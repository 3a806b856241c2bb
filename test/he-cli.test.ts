/** The hosted-engine CLI and vdsmd's HA verbs against one real host: vdsmd, HA broker and agent processes. */
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

const dir = mkdtempSync(join(tmpdir(), 'he-cli-'));
const conf = join(dir, 'hosted-engine.conf');
const { uuid: VM_ID, xml } = engineDomainXml({ name: 'HostedEngine' });
let vdsmd: VdsmdProcess;
let client: VdsmClient;
let health: http.Server;
let broker: ChildProcess | undefined;
let agent: ChildProcess | undefined;

const cli = (...args: string[]) => runHostedEngine(args, { HOSTED_ENGINE_CONF: conf });

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000) => waitFor(what, probe, timeoutMs, 200);

const vmState = async () => ((await client.call('Host.getVMList')) as { vmId: string; status: string }[]).find((v) => v.vmId === VM_ID)?.status;

beforeAll(async () => {
  health = http.createServer((_q, r) => r.end('DB Up!')).listen(0, '127.0.0.1');
  await new Promise((r) => health.once('listening', r));
  const hp = (health.address() as { port: number }).port;
  writeFileSync(join(dir, 'engine.xml'), xml);
  vdsmd = await startVdsmdProcess({ args: ['--guest-wait-timeout', '1'], env: { VDSM_HE_CONF: conf } });
  client = await VdsmClient.connect({ host: '127.0.0.1', port: vdsmd.port });
  writeFileSync(
    conf,
    `host_id=1\nvmid=${VM_ID}\nvm_xml=${join(dir, 'engine.xml')}\nmetadata=${join(dir, 'metadata')}\nlockspace=${join(dir, 'lockspace')}\nlock=file\n` +
      `network_test=none\nbridge=lo\nhealth_url=http://127.0.0.1:${hp}/\nvdsm_host=127.0.0.1\nvdsm_port=${vdsmd.port}\nvdsm_ssl=false\n` +
      `broker_socket=${join(dir, 'broker.sock')}\nstate_dir=${join(dir, 'state')}\nmonitor_interval=0.3\nloop_delay=0.5\nhost_alive_timeout=3\nlease_timeout=5\nshutdown_delay=0\nengine_memory_mib=64\n`,
  );
}, 30_000);

afterAll(async () => {
  await stopProcess(agent);
  await stopProcess(broker);
  await client?.close();
  await vdsmd?.stop();
  health?.close();
  rmSync(dir, { recursive: true, force: true });
}, 40_000);

describe('hosted-engine CLI: misuse and a missing broker', () => {
  it('says whether hosted-engine is deployed', async () => {
    expect(await cli('--check-deployed')).toMatchObject({ code: 0, stdout: 'Hosted Engine has been deployed\n' });
    const none = await cli('--conf', join(dir, 'nope.conf'), '--check-deployed');
    expect(none).toMatchObject({ code: 1, stdout: 'Hosted Engine has not been deployed\n' });
    expect(await cli('--conf', join(dir, 'nope.conf'), '--vm-status')).toMatchObject({ code: 1, stdout: 'You must run deploy first\n' });
  });

  it('refuses no command, two commands and unknown options with exit 2', async () => {
    for (const args of [[], ['--vm-status', '--vm-start'], ['--teleport']]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/Try 'hosted-engine --help'/);
    }
  });

  it('without the broker: a clear message and exit 1, in text and JSON', async () => {
    expect(await cli('--vm-status')).toMatchObject({ code: 1, stdout: 'Cannot connect to the HA daemon, please check the logs.\n' });
    const j = await cli('--vm-status', '--json');
    expect([j.code, JSON.parse(j.stdout)]).toEqual([1, { exception: 'Cannot connect to the HA daemon, please check the logs.' }]);
  });

  it('vdsmd: haStats configured but not active; setHaMaintenanceMode answers 61', async () => {
    const stats = (await client.call('Host.getStats')) as { haStats: unknown };
    expect(stats.haStats).toEqual({ configured: true, active: false, score: 0, globalMaintenance: false, localMaintenance: false });
    await expect(client.call('Host.setHaMaintenanceMode', { mode: 'GLOBAL', enabled: true })).rejects.toMatchObject({ code: 61 });
  });
});

describe('hosted-engine CLI with the broker', () => {
  beforeAll(async () => {
    broker = spawnHeDaemon('he-broker', conf);
    await until('the broker', async () => ((await cli('--vm-status', '--json')).code === 0 ? true : undefined));
  }, 20_000);

  it('--vm-start, --vm-shutdown, --vm-poweroff, --vm-start-paused drive the engine VM through vdsmd', async () => {
    expect(await cli('--vm-start')).toMatchObject({ code: 0, stdout: 'VM in WaitForLaunch\n' });
    await until('Up', async () => ((await vmState()) === 'Up' ? true : undefined));
    const again = await cli('--vm-start');
    expect([again.code, again.stdout]).toEqual([1, 'VM exists and its status is Powering up\n']);
    expect((await cli('--vm-shutdown')).code).toBe(0);
    await until('Down', async () => ((await vmState()) === 'Down' ? true : undefined));
    expect(await cli('--vm-start')).toMatchObject({ code: 0, stdout: 'VM exists and is Down, cleaning up and restarting\nVM in WaitForLaunch\n' });
    await until('Up', async () => ((await vmState()) === 'Up' ? true : undefined));
    expect((await cli('--vm-poweroff')).code).toBe(0);
    expect(await vmState()).toBeUndefined();
    expect((await cli('--vm-start-paused')).stdout).toBe('VM in WaitForLaunch\n');
    await until('Paused', async () => ((await vmState()) === 'Paused' ? true : undefined));
    expect((await cli('--vm-poweroff')).code).toBe(0);
  }, 60_000);

  it('vdsmd sets global and local maintenance through the broker', async () => {
    await client.call('Host.setHaMaintenanceMode', { mode: 'global', enabled: true });
    expect(JSON.parse((await cli('--vm-status', '--json')).stdout).global_maintenance).toBe(true);
    await client.call('Host.setHaMaintenanceMode', { mode: 'GLOBAL', enabled: false });
    expect(JSON.parse((await cli('--vm-status', '--json')).stdout).global_maintenance).toBe(false);
  });

  it('--vm-status shows the agent\'s block in upstream\'s layout; local maintenance gives score 0', async () => {
    agent = spawnHeDaemon('he-agent', conf);
    const text = await until('our block', async () => {
      const r = await cli('--vm-status');
      return r.stdout.includes('--== Host') && r.stdout.includes('Status up-to-date                  : True') ? r.stdout : undefined;
    });
    expect(text).toMatch(/^--== Host \S+ \(id: 1\) status ==--$/m);
    expect(text).toMatch(/^Host ID {28}: 1$/m);
    expect(text).toMatch(/^Score {30}: \d+$/m);
    expect(text).toMatch(/^Engine status {22}: \{"vm": "(up|down\w*)", "health": "(good|bad)"/m);
    expect(text).toMatch(/^crc32 {30}: [0-9a-f]{8}$/m);
    expect(text).toMatch(/^Extra metadata \(valid at timestamp\):\n\tmetadata_parse_version=1$/m);
    expect((await cli('--set-maintenance', '--mode=local')).code).toBe(0);
    await until('LocalMaintenance with score 0', async () => {
      const s = JSON.parse((await cli('--vm-status', '--json')).stdout)['1'];
      return s?.maintenance === true && s.score === 0 && String(s.extra).includes('state=LocalMaintenance') ? true : undefined;
    });
    const stats = (await client.call('Host.getStats')) as { haStats: { localMaintenance: boolean; active: boolean } };
    expect(stats.haStats).toMatchObject({ active: true, localMaintenance: true });
    expect((await cli('--set-maintenance', '--mode=none')).code).toBe(0);
    await until('out of local maintenance', async () => (JSON.parse((await cli('--vm-status', '--json')).stdout)['1']?.maintenance === false ? true : undefined));
  }, 40_000);

  it('--clean-metadata refuses a live agent\'s block unless forced, and cleans a cleanly stopped one', async () => {
    await cli('--set-maintenance', '--mode=global'); // the agent must not start the VM meanwhile
    const refused = await cli('--clean-metadata');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Cannot clean unclean metadata block/);
    await stopProcess(agent);
    const s = JSON.parse((await cli('--vm-status', '--json')).stdout)['1'];
    expect(s).toMatchObject({ stopped: true, score: 0 });
    expect((await cli('--clean-metadata')).code).toBe(0);
    expect(JSON.parse((await cli('--vm-status', '--json')).stdout)['1']).toBeUndefined();
  }, 30_000);

  it('--reinitialize-lockspace needs global maintenance (or --force)', async () => {
    await cli('--set-maintenance', '--mode=none');
    const refused = await cli('--reinitialize-lockspace');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/global maintenance mode only/);
    expect((await cli('--reinitialize-lockspace', '--force')).code).toBe(0);
  });
});
