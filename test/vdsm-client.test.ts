import { writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { type CommandResult, runCommand } from './support/run-command.js';
import { useTlsVdsmd, VDSM_CLIENT } from './support/vdsmd-process.js';

/**
 * A bound against a hung process, not a speed claim: a CLI run takes under a second on a quiet machine, but beside
 * the heavy project's clusters (at a higher CPU priority) run 26 saw 7-22 s per run on 2 cores.
 */
const PROCESS_BOUND_MS = 60_000;
vi.setConfig({ testTimeout: 3 * PROCESS_BOUND_MS });

const ctx = useTlsVdsmd();

function client(args: string[], input?: string): Promise<CommandResult> {
  const tls = [
    '--key',
    ctx.pki.file('engine-key.pem'),
    '--cert',
    ctx.pki.file('engine.pem'),
    '--ca',
    ctx.pki.file('ca.pem'),
  ];
  return runCommand(process.execPath, [VDSM_CLIENT, '-a', '127.0.0.1', '-p', String(ctx.vdsmd.port), ...tls, ...args], {
    env: process.env,
    timeoutMs: PROCESS_BOUND_MS,
    input,
  });
}

describe('vdsm-client over TLS', () => {
  it('prints Host ping2 as JSON true', async () => {
    expect(await client(['Host', 'ping2'])).toEqual({ code: 0, stdout: 'true\n', stderr: '' });
  });

  it('prints Host getStats with sorted keys and a 4-space indent', async () => {
    const { code, stdout } = await client(['Host', 'getStats']);
    expect(code).toBe(0);
    // Exactly the parsed value written back with every object's keys sorted, 4 spaces, a final newline.
    const sortDeep = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sortDeep)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]),
            )
          : v;
    expect(stdout).toBe(`${JSON.stringify(sortDeep(JSON.parse(stdout)), null, 4)}\n`);
    const topKeys = [...stdout.matchAll(/^ {4}"([^"]+)":/gm)].map((m) => m[1]);
    expect(topKeys).toEqual([...topKeys].sort());
    expect(stdout).toMatch(/^ {4}"haStats": \{\n {8}"active": false,/m);
  });

  it('reports a server error as vdsm-client does, with exit 1', async () => {
    const { code, stdout, stderr } = await client(['Host', 'setHaMaintenanceMode', 'mode=GLOBAL', 'enabled=yes']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /^vdsm-client: Command Host.setHaMaintenanceMode with args \{'mode': 'GLOBAL', 'enabled': 'yes'\} failed:\n\(code=-32602, message=Invalid params: enabled: expected a boolean/,
    );
  });

  it('passes booleans and integers as name=value strings, as upstream vdsm-client does', async () => {
    const list = await client(['Host', 'getVMList', 'fullStatus=true', 'onlyUUID=False']);
    expect(list.stderr).toBe('');
    expect(JSON.parse(list.stdout)).toContainEqual(expect.objectContaining({ status: 'Up' }));
    // Validation passed: the verb itself answers (HA is not configured on the test host).
    const ha = await client(['Host', 'setHaMaintenanceMode', 'mode=GLOBAL', 'enabled=false']);
    expect(ha.stderr).toMatch(/\(code=40, message=Resource unavailable/);
    const destroy = await client(['VM', 'destroy', 'vmID=5f2b7c1e-0000-4000-8000-000000000000', 'gracefulAttempts=2']);
    expect(destroy.stderr).toMatch(/\(code=1, message=Virtual machine does not exist/);
  });

  it('passes typed params from -f FILE and from -f - (stdin)', async () => {
    const file = ctx.pki.file('params.json');
    writeFileSync(file, JSON.stringify({ mode: 'LOCAL', enabled: true }));
    const fromFile = await client(['-f', file, 'Host', 'setHaMaintenanceMode']);
    expect(fromFile.stderr).toMatch(/\(code=40, message=Resource unavailable/);
    const fromStdin = await client(
      ['-f', '-', 'Host', 'setHaMaintenanceMode'],
      JSON.stringify({ mode: 'sideways', enabled: true }),
    );
    expect(fromStdin.stderr).toMatch(/\(code=61, message=Failed to set Hosted Engine HA policy/);
  });

  it('refuses name=value together with -f, and malformed arguments', async () => {
    expect((await client(['-f', '-', 'Host', 'ping2', 'a=b'], '{}')).stderr).toMatch(/cannot be combined with -f/);
    expect((await client(['Host', 'ping2', 'novalue'])).stderr).toMatch(/not of the form name=value/);
    expect((await client(['--port', 'x', 'Host', 'ping2'])).code).toBe(1);
  });

  it('prints help from the verb catalogue', async () => {
    const ns = await client(['Host', '-h']);
    expect(ns.code).toBe(0);
    expect(ns.stdout).toMatch(/getStats/);
    const verb = await client(['Host', 'setHaMaintenanceMode', '-h']);
    expect(verb.stdout).toMatch(/mode \(string, required\)/);
    expect(verb.stdout).toMatch(/enabled \(boolean, required\)/);
    expect(verb.stdout).toMatch(/"enabled": "boolean"/);
    // Params that also take strings are still described by their type.
    const shutdown = await client(['VM', 'shutdown', '-h']);
    expect(shutdown.stdout).toMatch(/delay \(integer, optional\)/);
    expect(shutdown.stdout).toMatch(/reboot \(boolean, optional\)/);
    expect(shutdown.stdout).toMatch(/"delay": "integer"/);
  });

  it('says clearly when it cannot connect', async () => {
    const { code, stderr } = await client(['--insecure', 'Host', 'ping2']);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^vdsm-client: Connection to 127.0.0.1:\d+ with use_tls=false, timeout=60 failed|^vdsm-client: Request Host.ping2/,
    );
  });
});
