/**
 * The built vdsm-tool as a process with its real runner, on a scratch root ($VDSM_TOOL_ROOT): usermod --prefix
 * changes the scratch /etc/group, chown the scratch files. The certificates it makes are served by the built vdsmd
 * and presented by the built vdsm-client, as on a fresh host. Root: chown and usermod need it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { missing } from './support/peers.js';
import { runCommand } from './support/run-command.js';
import { ROOT, startVdsmdProcess, VDSM_CLIENT, type VdsmdProcess } from './support/vdsmd-process.js';

const VDSM_TOOL = join(ROOT, 'dist/cli/vdsm-tool.js');
/** A bound against a hung process, not a speed claim (see test/vdsm-client.test.ts). */
const PROCESS_BOUND_MS = 60_000;
vi.setConfig({ testTimeout: 3 * PROCESS_BOUND_MS });

let root: string;
const file = (p: string) => join(root, p);
const write = (p: string, text: string) => {
  mkdirSync(join(file(p), '..'), { recursive: true });
  writeFileSync(file(p), text);
};
const tool = (...args: string[]) =>
  runCommand(process.execPath, [VDSM_TOOL, ...args], {
    env: { PATH: process.env.PATH, VDSM_TOOL_ROOT: root },
    timeoutMs: PROCESS_BOUND_MS,
  });

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'vdsm-tool-cli-'));
  write(
    '/etc/passwd',
    'root:x:0:0::/root:/bin/sh\nvdsm:x:36:36::/var/lib/vdsm:/sbin/nologin\nsanlock:x:179:179::/run/sanlock:/sbin/nologin\n',
  );
  write('/etc/group', 'root:x:0:\nkvm:x:36:\nsanlock:x:179:\nqemu:x:107:\n');
  write('/etc/vdsm/vdsm.id', '5a1e0000-0000-4000-8000-000000000001\n');
  write('/etc/libvirt/qemu.conf', '#lock_manager = "lockd"\n');
  write(
    '/usr/share/polkit-1/rules.d/10-vdsm-ts-libvirt-access.rules',
    readFileSync(join(ROOT, 'rpm/10-vdsm-ts-libvirt-access.rules'), 'utf8'),
  );
  write('/etc/vdsm/vdsm.conf', '[vars]\nssl = true\n');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('vdsm-tool, the command', () => {
  it('--help: the verbs, exit 0; an unknown verb: the usage on stderr, exit 1', async () => {
    const help = await tool('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: vdsm-tool VERB/);
    for (const verb of ['configure', 'is-configured', 'remove-config', 'validate-config', 'service-restart'])
      expect(help.stdout).toContain(`  ${verb} `.trimEnd());
    const bad = await tool('frobnicate');
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toMatch(/^vdsm-tool: unknown verb 'frobnicate'\nUsage: vdsm-tool VERB/);
  });

  it('service-restart without systemd: a clear error, exit 1', async () => {
    expect(await tool('service-restart', 'vdsmd')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'vdsm-tool: cannot restart vdsmd: systemd is not running on this host (no /run/systemd/system)\n',
    });
  });
});

describe.skipIf(missing('root (chown, usermod)', process.getuid?.() !== 0))(
  'vdsm-tool configure on a fresh root',
  () => {
    let vdsmd: VdsmdProcess | undefined;
    afterAll(async () => {
      await vdsmd?.stop();
    });

    it('configures every module with the real usermod and chown; is-configured and validate-config then pass', async () => {
      expect((await tool('is-configured')).code).toBe(1);
      expect((await tool('validate-config')).code).toBe(1);
      const configure = await tool('configure');
      expect(configure.stderr).toBe('');
      expect(configure.code).toBe(0);
      expect(readFileSync(file('/etc/group'), 'utf8')).toMatch(/^kvm:x:36:sanlock$/m);
      expect(readFileSync(file('/etc/group'), 'utf8')).toMatch(/^qemu:x:107:sanlock$/m);
      expect(await tool('is-configured')).toMatchObject({ code: 0, stderr: '' });
      expect(await tool('validate-config')).toEqual({ code: 0, stdout: '', stderr: '' });
    });

    it('vdsmd serves mutual TLS on the certificates it made, and vdsm-client presents the same pair', async () => {
      const pki = {
        key: file('/etc/pki/vdsm/keys/vdsmkey.pem'),
        cert: file('/etc/pki/vdsm/certs/vdsmcert.pem'),
        ca: file('/etc/pki/vdsm/certs/cacert.pem'),
      };
      const names: Record<string, string> = { 'vdsm-key.pem': pki.key, 'vdsm.pem': pki.cert, 'ca.pem': pki.ca };
      vdsmd = await startVdsmdProcess({ pki: { dir: root, file: (n) => names[n]!, cleanup: () => undefined } });
      const ping = await runCommand(
        process.execPath,
        [
          VDSM_CLIENT,
          '-a',
          '127.0.0.1',
          '-p',
          String(vdsmd.port),
          '--key',
          pki.key,
          '--cert',
          pki.cert,
          '--ca',
          pki.ca,
          'Host',
          'ping2',
        ],
        { env: process.env, timeoutMs: PROCESS_BOUND_MS },
      );
      expect(ping).toEqual({ code: 0, stdout: 'true\n', stderr: '' });
    });
  },
);
