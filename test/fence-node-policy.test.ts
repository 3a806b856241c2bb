/**
 * Host.fenceNode's skipFencingIfSDActive policy against real sanlock daemons and a real BMC (ipmi_sim).
 *
 * One lockspace on a temp file, two simulated hosts with their own sanlock daemons: the target (host id 1)
 * and the proxy (host id 2). vdsmd runs as a process whose SANLOCK_RUN_DIR is the proxy's daemon, so all it
 * learns about leases comes from that daemon. The BMC is the target's ipmi_sim; a wrapper around its chassis
 * control program records every power command it received. Needs root, sanlock, ipmi_sim and ipmitool.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGets } from '../src/storage/host-lease.js';
import { initLeaseFile, startSanlock, type SanlockDaemon } from './cluster/sanlock.js';
import { startIpmiSim, type IpmiSim } from './fixtures/ipmi-sim.js';
import { EngineClient } from './support/engine.js';
import { missing } from './support/peers.js';
import { startVdsmdProcess, type VdsmdProcess } from './support/vdsmd-process.js';
import { waitFor } from './support/wait.js';
import { engineIpmiFence } from './support/engine-fence.js';

const cannotRun =
  missing('root (sanlock daemons)', process.getuid?.() !== 0) ||
  missing('sanlock (/usr/sbin/sanlock, Debian sanlock)', !existsSync('/usr/sbin/sanlock')) ||
  missing(
    'ipmi_sim and ipmitool (Debian openipmi, ipmitool)',
    !['/usr/bin/ipmi_sim', '/usr/bin/ipmitool'].every((f) => existsSync(f)),
  );

const PASSWORD = 'policy-pw7';
/** The storage domain's lockspace (vdsm names a domain's lockspace after its UUID). */
const SD = randomUUID();
/** A domain the proxy has never joined. */
const OTHER_SD = randomUUID();
const TARGET_ID = 1;
const PROXY_ID = 2;

let dir: string;
let target: SanlockDaemon;
let proxy: SanlockDaemon;
let bmc: IpmiSim;
let chassisLog: string;
let vdsmd: VdsmdProcess;
let engine: EngineClient;
const cleanups: (() => Promise<unknown>)[] = [];

/** Makes the simulator's chassis control program log each call ("set power 0", "get power") before running it. */
async function recordChassisCommands(sim: IpmiSim): Promise<string> {
  const log = join(sim.stateDir, 'chassis-commands.log');
  const program = join(sim.stateDir, 'chassis-power.sh');
  const real = join(sim.stateDir, 'chassis-power.real.sh');
  await copyFile(program, real);
  await chmod(real, 0o755);
  await writeFile(log, '');
  const wrapper = `${program}.new`;
  // "$1" is the power state file; the rest is the command.
  await writeFile(
    wrapper,
    `#!/bin/sh\nstate=$1\nshift\nprintf '%s\\n' "$*" >> '${log}'\nexec '${real}' "$state" "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  await rename(wrapper, program);
  return log;
}

/** The power commands the BMC received since the last reset (status reads left out). */
async function powerCommands(): Promise<string[]> {
  return (await readFile(chassisLog, 'utf8')).split('\n').filter((l) => l.startsWith('set '));
}

async function resetBmc(): Promise<void> {
  bmc.setPower('on');
  await writeFile(chassisLog, '');
}

/** The target's state in SD as the proxy's daemon sees it (the test's own look, through the real daemon). */
async function proxySees(hostId: number): Promise<string | undefined> {
  const r = await proxy.client(['gets', '-h', '1']);
  return new RegExp(`^h ${hostId} gen \\d+ timestamp \\d+ (\\w+)`, 'm').exec(r.stdout)?.[1];
}

/** What the engine sends to a proxy for an IPMI fence with skipFencingIfSDActive on. */
const fence = (action: string, storageDomainHostIdMap?: Record<string, unknown>) =>
  engineIpmiFence(bmc.port, PASSWORD, action, storageDomainHostIdMap ? { policy: { storageDomainHostIdMap } } : {});

const FENCED = { power: 'unknown', operationStatus: 'initiated' };

describe.skipIf(cannotRun)('Host.fenceNode policy skipFencingIfSDActive, on real sanlock', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vdsm-fence-policy-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await chmod(dir, 0o755); // the sanlock user must reach the lease file
    const leases = join(dir, 'leases');
    await initLeaseFile(leases, { lockspace: SD, resources: [], ioTimeout: 1 });

    [target, proxy] = await Promise.all([startSanlock({ name: 'target' }), startSanlock({ name: 'proxy' })]);
    cleanups.push(
      () => target.stop(),
      () => proxy.stop(),
    );
    const join1 = (d: SanlockDaemon, id: number) =>
      d.client(['add_lockspace', '-o', '1', '-s', `${SD}:${id}:${leases}:0`], 60_000);
    for (const r of await Promise.all([join1(target, TARGET_ID), join1(proxy, PROXY_ID)]))
      expect(r.code, r.stdout + r.stderr).toBe(0);

    bmc = await startIpmiSim({ user: 'admin', password: PASSWORD });
    cleanups.push(() => bmc.stop());
    chassisLog = await recordChassisCommands(bmc);

    vdsmd = await startVdsmdProcess({ env: { SANLOCK_RUN_DIR: proxy.runDir } });
    cleanups.push(() => vdsmd.stop());
    engine = await EngineClient.connect(vdsmd.port);
    cleanups.push(() => engine.close());

    // Right after joining, the proxy has not yet seen the target renew: UNKNOWN until it has.
    await waitFor(
      'the proxy to see the target LIVE',
      async () => ((await proxySees(TARGET_ID)) === 'LIVE' ? true : undefined),
      60_000,
    );
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('status with a policy is plain status: the policy never applies to it', async () => {
    await resetBmc();
    expect((await engine.request('Host.fenceNode', fence('status', { [SD]: TARGET_ID }))).result).toEqual({
      power: 'on',
    });
    bmc.setPower('off');
    expect((await engine.request('Host.fenceNode', fence('status', { [SD]: TARGET_ID }))).result).toEqual({
      power: 'off',
    });
    expect(await powerCommands()).toEqual([]);
  });

  it('target LIVE in the lockspace: off and reboot answer {operationStatus: "skipped"}, the BMC gets no power command', async () => {
    await resetBmc();
    expect((await engine.request('Host.fenceNode', fence('off', { [SD]: TARGET_ID }))).result).toEqual({
      operationStatus: 'skipped',
    });
    // The engine may send the host id as a string.
    expect((await engine.request('Host.fenceNode', fence('reboot', { [SD]: String(TARGET_ID) }))).result).toEqual({
      operationStatus: 'skipped',
    });
    // One live lockspace is enough, whatever the others say.
    expect(
      (await engine.request('Host.fenceNode', fence('off', { [OTHER_SD]: TARGET_ID, [SD]: TARGET_ID }))).result,
    ).toEqual({ operationStatus: 'skipped' });
    expect(await powerCommands()).toEqual([]);
    expect(bmc.power()).toBe('on');
    expect(await proxySees(TARGET_ID)).toBe('LIVE');
    await vdsmd.waitForOutput(/"msg":"fencing policy: target has a live host-id lease; skipping"/);
    expect(vdsmd.output()).toContain(`"${SD}":"live"`);
  });

  it('a lockspace the proxy has not joined reads "unavailable": fenced (as vdsm, which has no monitor for it)', async () => {
    await resetBmc();
    expect((await engine.request('Host.fenceNode', fence('off', { [OTHER_SD]: TARGET_ID }))).result).toEqual(FENCED);
    expect(await powerCommands()).toEqual(['set power 0']);
    expect(bmc.power()).toBe('off');
    await vdsmd.waitForOutput(/"msg":"fencing policy: no live host-id lease"/);
    expect(vdsmd.output()).toContain(`"${OTHER_SD}":"unavailable"`);
  });

  it('a host id nobody holds in the lockspace is free: fenced', async () => {
    await resetBmc();
    expect((await engine.request('Host.fenceNode', fence('off', { [SD]: 7 }))).result).toEqual(FENCED);
    expect(await powerCommands()).toEqual(['set power 0']);
    expect(bmc.power()).toBe('off');
  });

  it('sanlock not answering (a proxy without a daemon): fenced, as vdsm does when the lease query fails', async () => {
    await resetBmc();
    const noDaemon = await startVdsmdProcess({ env: { SANLOCK_RUN_DIR: join(dir, 'no-daemon-here') } });
    cleanups.push(() => noDaemon.stop());
    const client = await EngineClient.connect(noDaemon.port);
    try {
      expect((await client.request('Host.fenceNode', fence('off', { [SD]: TARGET_ID }))).result).toEqual(FENCED);
      await noDaemon.waitForOutput(/cannot read host lease status from sanlock/);
    } finally {
      await client.close();
      await noDaemon.stop();
    }
    expect(await powerCommands()).toEqual(['set power 0']);
    expect(bmc.power()).toBe('off');
    expect(noDaemon.output()).toContain('cannot read host lease status from sanlock');
  });

  it('rejects a host id that is not an integer with -32602, and touches nothing', async () => {
    await resetBmc();
    for (const bad of ['one', 1.5, -1, null]) {
      expect((await engine.request('Host.fenceNode', fence('off', { [SD]: bad }))).error?.code, String(bad)).toBe(
        -32602,
      );
    }
    expect(await powerCommands()).toEqual([]);
  });

  it(
    'target dead (its sanlock daemon killed): once the proxy sees FAIL, off powers the BMC off',
    { timeout: 120_000 },
    async () => {
      await resetBmc();
      await target.kill();
      // 8 × io_timeout without a renewal turns LIVE into FAIL (DEAD after 60 s more); either means "not live".
      await waitFor(
        'the proxy to see the target FAIL or DEAD',
        async () => {
          const s = await proxySees(TARGET_ID);
          return s === 'FAIL' || s === 'DEAD' ? s : undefined;
        },
        90_000,
        500,
      );
      expect((await engine.request('Host.fenceNode', fence('off', { [SD]: TARGET_ID }))).result).toEqual(FENCED);
      expect(await powerCommands()).toEqual(['set power 0']);
      expect(bmc.power()).toBe('off');
      const dead = new RegExp(`"${SD}":"(fail|dead)"`);
      expect(await vdsmd.waitForOutput(dead)).toMatch(dead);
    },
  );
});

describe('parseGets (the shapes of `sanlock client gets -h 1` that real daemons rarely show)', () => {
  it('reads hosts per lockspace; ADD/REM flags and "hosts not ready"/"hosts error" make it unavailable', () => {
    const spaces = parseGets(
      [
        's a:2:/srv/my leases:0 ',
        'h 1 gen 3 timestamp 1109 LIVE',
        'h 2 gen 1 timestamp 1106 LIVE',
        'h 5 gen 1 timestamp 99 DEAD',
        's b:1:/srv/b:1048576 ADD ',
        's c:1:/srv/c:0',
        'hosts not ready',
        's d:4:/srv/d:0 ',
        'hosts error -2',
        's e:4:/srv/e:0 REM ',
      ].join('\n'),
    );
    expect(spaces.get('a')).toEqual({
      hosts: new Map([
        [1, 'live'],
        [2, 'live'],
        [5, 'dead'],
      ]),
    });
    expect(spaces.get('b')).toEqual({ unavailable: 'lockspace flagged ADD' });
    expect(spaces.get('c')).toEqual({ unavailable: 'hosts not ready' });
    expect(spaces.get('d')).toEqual({ unavailable: 'hosts error -2' });
    expect(spaces.get('e')).toEqual({ unavailable: 'lockspace flagged REM' });
  });
});
