/** The hosted-engine CLI and vdsmd's HA verbs against one real host: vdsmd, HA broker and agent processes. */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerClient } from '../src/hosted-engine/broker/client.js';
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

/**
 * Every wait is bounded but generous: on a loaded 2-core machine one CLI run (a fresh node process) can take
 * seconds. Nothing here asserts how long anything took; each step waits for the state it needs.
 */
const WAIT_MS = 60_000;

/** vdsmd's raw status of the engine VM (Host.getVMList: Up, never the guest-derived Powering up); undefined: not here. */
const vmState = async () =>
  ((await client.call('Host.getVMList')) as { vmId: string; status: string }[]).find((v) => v.vmId === VM_ID)?.status;

interface HostJson {
  score: number;
  maintenance: boolean;
  stopped: boolean;
  extra: string;
}

/** `--vm-status --json`, or undefined while the broker does not answer. */
const vmStatusJson = async (): Promise<Record<string, unknown> | undefined> => {
  const r = await cli('--vm-status', '--json');
  return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
};

/** This host's block (host id 1) as `--vm-status --json` shows it; undefined when there is none (or no broker). */
const ownBlock = async () => (await vmStatusJson())?.['1'] as HostJson | undefined;

/** The agent's FSM state, from the extra metadata of its block. */
const agentState = (b: HostJson | undefined) => /(?:^|\n)state=(\w+)/.exec(b?.extra ?? '')?.[1];

const brokerSocket = () => join(dir, 'broker.sock');

/** Removes the engine VM from vdsmd, if there, and frees host 1's engine VM lease: what the next test expects. */
async function removeEngineVm(): Promise<void> {
  if ((await vmState().catch(() => undefined)) !== undefined) {
    await client.call('VM.destroy', { vmID: VM_ID }).catch(() => undefined);
    await waitFor(
      'the engine VM gone from vdsmd',
      async () => ((await vmState()) === undefined ? true : undefined),
      WAIT_MS,
    );
  }
  await brokerClient(brokerSocket())
    .call('leaseRelease', {}, { timeoutMs: 10_000 })
    .catch(() => undefined);
}

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
  await stopProcess(agent, 30_000);
  if (client) await removeEngineVm().catch(() => undefined);
  await stopProcess(broker);
  await client?.close();
  await vdsmd?.stop();
  health?.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('hosted-engine CLI: misuse and a missing broker', () => {
  it('says whether hosted-engine is deployed', async () => {
    expect(await cli('--check-deployed')).toMatchObject({ code: 0, stdout: 'Hosted Engine has been deployed\n' });
    const none = await cli('--conf', join(dir, 'nope.conf'), '--check-deployed');
    expect(none).toMatchObject({ code: 1, stdout: 'Hosted Engine has not been deployed\n' });
    expect(await cli('--conf', join(dir, 'nope.conf'), '--vm-status')).toMatchObject({
      code: 1,
      stdout: 'You must run deploy first\n',
    });
  }, 120_000);

  it('refuses no command, two commands and unknown options with exit 2', async () => {
    for (const args of [[], ['--vm-status', '--vm-start'], ['--teleport']]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/Try 'hosted-engine --help'/);
    }
  }, 120_000);

  it('without the broker: a clear message and exit 1, in text and JSON', async () => {
    expect(await cli('--vm-status')).toMatchObject({
      code: 1,
      stdout: 'Cannot connect to the HA daemon, please check the logs.\n',
    });
    const j = await cli('--vm-status', '--json');
    expect([j.code, JSON.parse(j.stdout)]).toEqual([
      1,
      { exception: 'Cannot connect to the HA daemon, please check the logs.' },
    ]);
  }, 120_000);

  it('vdsmd: haStats configured but not active; setHaMaintenanceMode answers 61', async () => {
    const stats = (await client.call('Host.getStats')) as { haStats: unknown };
    expect(stats.haStats).toEqual({
      configured: true,
      active: false,
      score: 0,
      globalMaintenance: false,
      localMaintenance: false,
    });
    await expect(client.call('Host.setHaMaintenanceMode', { mode: 'GLOBAL', enabled: true })).rejects.toMatchObject({
      code: 61,
    });
  }, 60_000);
});

describe('hosted-engine CLI with the broker', () => {
  beforeAll(async () => {
    broker = spawnHeDaemon('he-broker', conf);
    await waitFor('the broker', async () => ((await vmStatusJson()) ? true : undefined), WAIT_MS);
  }, 120_000);

  it('--vm-start, --vm-shutdown, --vm-poweroff, --vm-start-paused drive the engine VM through vdsmd', async () => {
    try {
      expect(await cli('--vm-start')).toMatchObject({ code: 0, stdout: 'VM in WaitForLaunch\n' });
      await waitFor('Up', async () => ((await vmState()) === 'Up' ? true : undefined), WAIT_MS);
      // vdsmd shows "Powering up" for guest_wait_timeout (1 s) after the start, then "Up": a slow CLI run sees
      // either. The point is the refusal: a running engine VM is never started twice.
      const again = await cli('--vm-start');
      expect(again.code).toBe(1);
      expect(again.stdout).toMatch(/^VM exists and its status is (Powering up|Up)\n$/);
      expect(await vmState()).toBe('Up');
      expect((await cli('--vm-shutdown')).code).toBe(0);
      await waitFor('Down', async () => ((await vmState()) === 'Down' ? true : undefined), WAIT_MS);
      expect(await cli('--vm-start')).toMatchObject({
        code: 0,
        stdout: 'VM exists and is Down, cleaning up and restarting\nVM in WaitForLaunch\n',
      });
      await waitFor('Up', async () => ((await vmState()) === 'Up' ? true : undefined), WAIT_MS);
      expect((await cli('--vm-poweroff')).code).toBe(0);
      await waitFor('the engine VM gone', async () => ((await vmState()) === undefined ? true : undefined), WAIT_MS);
      expect((await cli('--vm-start-paused')).stdout).toBe('VM in WaitForLaunch\n');
      await waitFor('Paused', async () => ((await vmState()) === 'Paused' ? true : undefined), WAIT_MS);
      expect((await cli('--vm-poweroff')).code).toBe(0);
      await waitFor('the engine VM gone', async () => ((await vmState()) === undefined ? true : undefined), WAIT_MS);
    } finally {
      await removeEngineVm(); // a failure above must not leave the VM (and its lease) to the agent's tests
    }
  }, 300_000);

  it('vdsmd sets global and local maintenance through the broker', async () => {
    await client.call('Host.setHaMaintenanceMode', { mode: 'global', enabled: true });
    expect((await vmStatusJson())?.global_maintenance).toBe(true);
    await client.call('Host.setHaMaintenanceMode', { mode: 'GLOBAL', enabled: false });
    expect((await vmStatusJson())?.global_maintenance).toBe(false);
    // No agent yet, so no block: haStats shows the broker's local flag. vdsmd asks the broker with a 5 s bound,
    // and on a loaded machine one answer may be its "broker away" default: poll for the value.
    const haStats = async () =>
      ((await client.call('Host.getStats')) as { haStats: { localMaintenance: boolean } }).haStats;
    // The broker keeps vdsmd's local flag apart from the CLI's (upstream's two flags), in state_dir/ha.json.
    const flags = () =>
      JSON.parse(readFileSync(join(dir, 'state', 'ha.json'), 'utf8')) as { local: boolean; manual: boolean };
    await client.call('Host.setHaMaintenanceMode', { mode: 'LOCAL', enabled: true });
    expect(flags()).toEqual({ local: true, manual: false });
    await waitFor(
      'haStats in local maintenance',
      async () => ((await haStats()).localMaintenance ? true : undefined),
      WAIT_MS,
    );
    await client.call('Host.setHaMaintenanceMode', { mode: 'LOCAL', enabled: false });
    expect(flags()).toEqual({ local: false, manual: false });
  }, 180_000);

  it("--vm-status shows the agent's block in upstream's layout; local maintenance gives score 0", async () => {
    // With no other host and a healthy engine URL, a free agent starts the engine VM once it has
    // host_alive_timeout (3 s) of history, and then local maintenance is refused. Global maintenance, set before
    // the agent starts, keeps it from ever starting the VM in this test and the next.
    expect((await cli('--set-maintenance', '--mode=global')).code).toBe(0);
    agent = spawnHeDaemon('he-agent', conf);
    const text = await waitFor(
      'our block',
      async () => {
        const r = await cli('--vm-status');
        return r.stdout.includes('--== Host') && r.stdout.includes('Status up-to-date                  : True')
          ? r.stdout
          : undefined;
      },
      WAIT_MS,
    );
    expect(text).toMatch(/^--== Host \S+ \(id: 1\) status ==--$/m);
    expect(text).toMatch(/^Host ID {28}: 1$/m);
    expect(text).toMatch(/^Score {30}: \d+$/m);
    expect(text).toMatch(/^Engine status {22}: \{"vm": "(up|down\w*)", "health": "(good|bad)"/m);
    expect(text).toMatch(/^crc32 {30}: [0-9a-f]{8}$/m);
    expect(text).toMatch(/^Extra metadata \(valid at timestamp\):\n\tmetadata_parse_version=1$/m);
    expect(await vmState()).toBeUndefined();
    // --mode=local sets local before it clears global: the agent never runs free in between.
    expect(await cli('--set-maintenance', '--mode=local')).toMatchObject({ code: 0, stdout: '' });
    await waitFor(
      'LocalMaintenance with score 0',
      async () => {
        const s = await ownBlock();
        return s?.maintenance === true && s.score === 0 && agentState(s) === 'LocalMaintenance' ? true : undefined;
      },
      WAIT_MS,
    );
    // vdsmd asks the broker with a 5 s bound; on a loaded machine one answer may be the "not active" default.
    await waitFor(
      'vdsmd: haStats active and in local maintenance',
      async () => {
        const stats = (await client.call('Host.getStats')) as {
          haStats: { localMaintenance: boolean; active: boolean };
        };
        return stats.haStats.active && stats.haStats.localMaintenance ? true : undefined;
      },
      WAIT_MS,
    );
    // Out of local maintenance into global (the next test's precondition): --mode=global sets global before it
    // clears the CLI's local flag, so again the agent is never free to start the VM.
    expect((await cli('--set-maintenance', '--mode=global')).code).toBe(0);
    await waitFor(
      'out of local maintenance, in global',
      async () => {
        const s = await ownBlock();
        return s?.maintenance === false && agentState(s) === 'GlobalMaintenance' ? true : undefined;
      },
      WAIT_MS,
    );
  }, 300_000);

  it("--clean-metadata refuses a live agent's block unless forced, and cleans a cleanly stopped one", async () => {
    try {
      // The exact precondition of "unclean block": the agent runs (its block is not stopped) and neither holds
      // the engine VM lease nor can take it (global maintenance, no engine VM here). A lease held by host 1
      // would be refused first, with another message.
      expect((await cli('--set-maintenance', '--mode=global')).code).toBe(0);
      await removeEngineVm();
      await waitFor(
        'the agent in GlobalMaintenance, holding no lease',
        async () => {
          const s = await ownBlock();
          if (!s || s.stopped || agentState(s) !== 'GlobalMaintenance') return undefined;
          if ((await vmState()) !== undefined) return undefined;
          return (await brokerClient(brokerSocket()).call('leaseHolder', {}, { timeoutMs: 10_000 })) === null
            ? true
            : undefined;
        },
        WAIT_MS,
      );
      const refused = await cli('--clean-metadata');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/Cannot clean unclean metadata block/);
      expect(await ownBlock()).toMatchObject({ stopped: false });

      // SIGTERM: the agent finishes its tick and publishes a clean stop before it exits.
      const a = agent;
      await stopProcess(a, 30_000);
      expect(a?.exitCode).toBe(0);
      expect(await ownBlock()).toMatchObject({ stopped: true, score: 0 });
      expect(await cli('--clean-metadata')).toMatchObject({ code: 0 });
      expect(await vmStatusJson()).not.toHaveProperty('1');
    } finally {
      await stopProcess(agent, 30_000);
    }
  }, 300_000);

  it('--reinitialize-lockspace needs global maintenance (or --force)', async () => {
    expect((await cli('--set-maintenance', '--mode=none')).code).toBe(0);
    expect((await vmStatusJson())?.global_maintenance).toBe(false);
    const refused = await cli('--reinitialize-lockspace');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/global maintenance mode only/);
    expect((await cli('--reinitialize-lockspace', '--force')).code).toBe(0);
  }, 120_000);
});
