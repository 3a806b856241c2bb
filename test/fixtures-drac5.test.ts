/**
 * Proof that the DRAC simulator (test/fixtures/cli-device) is faithful: the
 * real ClusterLabs /usr/sbin/fence_drac5 (Debian fence-agents) runs against it
 * over telnet and SSH and gets the outputs and exit codes of docs/fence.md,
 * "What ClusterLabs' agents print and return".
 */
import net from 'node:net';
import { existsSync } from 'node:fs';
import { describe, expect, it, type TestContext } from 'vitest';
import type { CliDevice, CliDeviceOptions } from './fixtures/cli-device/index.js';
import { agentArgs, deviceForTest, runAgent } from './fixtures/cli-device/run-agent.js';
import { missing } from './support/peers.js';
import { waitFor } from './support/wait.js';

const AGENT = '/usr/sbin/fence_drac5';
const noAgent = missing(
  'ClusterLabs fence_drac5 with telnet and ssh (fence-agents, telnet, openssh-client)',
  !(existsSync(AGENT) && existsSync('/usr/bin/telnet') && existsSync('/usr/bin/ssh')),
);

const device = (t: TestContext, opts: Partial<CliDeviceOptions> = {}) =>
  deviceForTest(t, { device: 'drac5', transport: 'telnet', ...opts });
const args = (d: CliDevice, transport: 'telnet' | 'ssh', ...rest: string[]) =>
  agentArgs(d, transport, 'root', 'calvin', ...rest);

const LOGIN_FAILED = /ERROR: Unable to connect\/login to fencing device/;

describe.skipIf(noAgent).concurrent.each(['telnet', 'ssh'] as const)('fence_drac5 vs DRAC 5 over %s', (transport) => {
  it('status ON exits 0, status OFF exits 2', async (t) => {
    const d = await device(t, { transport });
    const on = await runAgent(AGENT, args(d, transport, '-o', 'status'));
    expect(on).toMatchObject({ code: 0, stdout: 'Status: ON\n' });
    d.setPower(undefined, false);
    const off = await runAgent(AGENT, args(d, transport, '-o', 'status'));
    expect(off).toMatchObject({ code: 2, stdout: 'Status: OFF\n' });
    expect(d.commands).toEqual(['racadm serveraction powerstatus', 'exit', 'racadm serveraction powerstatus', 'exit']);
  });

  it('off then on change the simulated power', async (t) => {
    const d = await device(t, { transport });
    const off = await runAgent(AGENT, args(d, transport, '-o', 'off', '--power-wait', '0'));
    expect(off).toMatchObject({ code: 0, stdout: 'Success: Powered OFF\n' });
    expect(d.power()).toBe(false);
    const on = await runAgent(AGENT, args(d, transport, '-o', 'on', '--power-wait', '0'));
    expect(on).toMatchObject({ code: 0, stdout: 'Success: Powered ON\n' });
    expect(d.power()).toBe(true);
    expect(d.commands).toContain('racadm serveraction powerdown');
    expect(d.commands).toContain('racadm serveraction powerup');
  });

  it('reboot powers down then up', async (t) => {
    const d = await device(t, { transport });
    const r = await runAgent(AGENT, args(d, transport, '-o', 'reboot', '--power-wait', '0'));
    expect(r).toMatchObject({ code: 0, stdout: 'Success: Rebooted\n' });
    expect(d.power()).toBe(true);
    expect(d.commands.filter((c) => /powerdown|powerup/.test(c))).toEqual([
      'racadm serveraction powerdown',
      'racadm serveraction powerup',
    ]);
    expect(d.transitions).toEqual(['server off', 'server on']);
  });

  it('wrong password exits 1', async (t) => {
    const d = await device(t, { transport });
    const r = await runAgent(AGENT, [
      ...args(d, transport, '-o', 'status', '--login-timeout', '1', '--shell-timeout', '1'),
      '-p',
      'wrong',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(LOGIN_FAILED);
    expect(d.commands).toEqual([]);
  });
});

describe.skipIf(noAgent).concurrent('fence_drac5 vs DRAC 5 (telnet details)', () => {
  it('list prints N/A for the single-port DRAC 5; already-on is reported', async (t) => {
    const d = await device(t);
    const list = await runAgent(AGENT, args(d, 'telnet', '-o', 'list'));
    expect(list).toMatchObject({ code: 0, stdout: 'N/A\n' });
    const on = await runAgent(AGENT, args(d, 'telnet', '-o', 'on'));
    expect(on).toMatchObject({ code: 0, stdout: 'Success: Already ON\n' });
  });

  it('accepts the stdin key=value form', async (t) => {
    const d = await device(t);
    d.setPower(undefined, false);
    const stdin = `# from fenced\nipaddr=127.0.0.1\nipport=${d.port}\nlogin=root\npasswd=calvin\naction=on\n`;
    const r = await runAgent(AGENT, [], { stdin });
    expect(r).toMatchObject({ code: 0, stdout: 'Success: Powered ON\n' });
    expect(d.power()).toBe(true);
  });

  it('a device that hangs up after the failed password: the agent sees the hang-up, not its login timeout', async (t) => {
    // A 60 s login timeout and a 15 s SIGKILL bound: only an agent that notices the closed connection exits 1 by
    // itself (one waiting for its timeout is killed, code null). The device closes after one attempt (it saw no command).
    const d = await device(t, { maxLoginAttempts: 1 });
    const r = await runAgent(
      AGENT,
      [...args(d, 'telnet', '-o', 'status', '--login-timeout', '60', '--shell-timeout', '60'), '-p', 'nope'],
      { timeoutMs: 15_000 },
    );
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 1, signal: null });
    expect(r.stderr).toMatch(LOGIN_FAILED);
    expect(d.commands).toEqual([]);
  });

  it('negotiates like a telnetd and never echoes the password', async (t) => {
    const d = await device(t);
    const sock = net.connect(d.port, '127.0.0.1');
    sock.on('error', () => {});
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    const seen = async (pred: (b: Buffer) => boolean): Promise<Buffer> => {
      try {
        return await waitFor(
          'the bytes expected',
          () => (pred(Buffer.concat(chunks)) ? Buffer.concat(chunks) : undefined),
          2000,
          20,
        );
      } catch {
        throw new Error(`timed out; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`);
      }
    };
    try {
      // IAC WILL ECHO, IAC WILL SGA first, then the login prompt.
      const first = await seen((b) => b.toString('latin1').includes('login: '));
      expect([...first.subarray(0, 6)]).toEqual([255, 251, 1, 255, 251, 3]);
      // Client offers TTYPE and asks for STATUS: refused; DO ECHO (an ack) gets no answer.
      sock.write(Buffer.from([255, 251, 24, 255, 253, 5, 255, 253, 1]));
      await seen((b) => b.includes(Buffer.from([255, 252, 5])));
      const replies = Buffer.concat(chunks).subarray(first.length);
      expect([...replies]).toEqual([255, 254, 24, 255, 252, 5]);
      // CR LF is one Enter; IAC sequences inside data are stripped.
      sock.write(Buffer.from([0x72, 0x6f, 255, 241, 0x6f, 0x74, 13, 10]));
      await seen((b) => b.toString('latin1').includes('Password: '));
      sock.write('calvin\r\n');
      const all = await seen((b) => b.toString('latin1').endsWith('$ '));
      const text = all.toString('latin1');
      expect(text).toContain('root\r\nPassword: ');
      expect(text).not.toContain('calvin');
      // Empty line: fresh prompt. Lone LF works as Enter too.
      const before = all.length;
      sock.write('\r\n');
      await seen((b) => b.length > before && b.toString('latin1').endsWith('$ '));
      sock.write('racadm serveraction powerstatus\n');
      await seen((b) => b.toString('latin1').includes('Server power status: ON\r\n$ '));
      expect(d.commands).toEqual(['', 'racadm serveraction powerstatus']);
    } finally {
      sock.destroy();
    }
  });
});

describe.skipIf(noAgent).concurrent.each(['telnet', 'ssh'] as const)('fence_drac5 vs DRAC CMC over %s', (transport) => {
  it('status / on / list by module name', async (t) => {
    const d = await device(t, { transport, variant: 'cmc' });
    const st = await runAgent(AGENT, args(d, transport, '-o', 'status', '-n', 'server-2'));
    expect(st).toMatchObject({ code: 2, stdout: 'Status: OFF\n' });
    const on = await runAgent(AGENT, args(d, transport, '-o', 'on', '-n', 'server-2'));
    expect(on).toMatchObject({ code: 0, stdout: 'Success: Powered ON\n' });
    expect(d.power('server-2')).toBe(true);
    expect(d.commands).toContain('racadm serveraction powerup -m server-2');
    const list = await runAgent(AGENT, args(d, transport, '-o', 'list'));
    expect(list).toMatchObject({ code: 0, stdout: 'Chassis,\nserver-1,\nserver-2,\n' });
  });
});

describe.skipIf(noAgent).concurrent('fence_drac5 vs DRAC CMC / MC details', () => {
  it('CMC without a plug fails with the module-name message', async (t) => {
    const d = await device(t, { variant: 'cmc' });
    const r = await runAgent(AGENT, args(d, 'telnet', '-o', 'status'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Failed: You have to enter module name (-n)');
  });

  it('DRAC/MC: status from getmodinfo, off with -s, list', async (t) => {
    const d = await device(t, { variant: 'mc' });
    const st = await runAgent(AGENT, args(d, 'telnet', '-o', 'status', '-n', 'server-1'));
    expect(st).toMatchObject({ code: 0, stdout: 'Status: ON\n' });
    const off = await runAgent(AGENT, args(d, 'telnet', '-o', 'off', '-n', 'server-1'));
    expect(off).toMatchObject({ code: 0, stdout: 'Success: Powered OFF\n' });
    expect(d.power('server-1')).toBe(false);
    expect(d.commands).toContain('racadm serveraction -s server-1 powerdown');
    const list = await runAgent(AGENT, args(d, 'telnet', '-o', 'list'));
    expect(list).toMatchObject({ code: 0, stdout: 'server-1,\nserver-2,\n' });
  });
});
