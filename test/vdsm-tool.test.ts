/**
 * vdsm-tool in process, on a scratch root ($VDSM_TOOL_ROOT's role): the bytes configure writes, idempotence, backups,
 * is-configured and remove-config, certificates, validate-config and the service verbs. usermod and systemctl go to a
 * recording runner (usermod's effect on the scratch /etc/group is emulated); openssl runs for real.
 * test/vdsm-tool-cli.test.ts runs the built command with the real runner.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli/tool/cli.js';
import type { ToolContext } from '../src/cli/tool/context.js';
import type { RunResult } from '../src/cli/tool/runner.js';

const BEGIN = '## vdsm-ts: begin configuration section (vdsm-tool configure; remove-config removes it)';
const END = '## vdsm-ts: end configuration section';
const SAMPLE_QEMU_CONF = `# Master configuration file for the QEMU driver.
#user = "qemu"
#
# lock manager plugin
#lock_manager = "lockd"
`;
/** The machine's qemu.conf where libvirt is installed: what configure meets on a real host. */
const QEMU_CONF = (() => {
  try {
    return readFileSync('/etc/libvirt/qemu.conf', 'utf8');
  } catch {
    return SAMPLE_QEMU_CONF; // no libvirt here, or not root (it is 0600 on some distributions)
  }
})();
const QEMU_SANLOCK_CONF = '# sanlock lock manager\n#auto_disk_leases = 1\n#require_lease_for_disks = 1\n';
const MACHINE_ID = '0123456789abcdef0123456789abcdef';
const HOST_UUID = '01234567-89ab-cdef-0123-456789abcdef';

let root: string;
let calls: string[][];
/** What `systemctl is-active` answers per unit (0 active, 3 inactive). */
let unitCodes: Record<string, number>;
let out: string[];
let err: string[];

const file = (p: string) => join(root, p);
const read = (p: string) => readFileSync(file(p), 'utf8');
const write = (p: string, text: string, mode = 0o644) => {
  mkdirSync(join(file(p), '..'), { recursive: true });
  writeFileSync(file(p), text, { mode });
};

/** usermod -a -G G1,G2 USER as it would change the scratch /etc/group. */
function emulateUsermod(args: readonly string[]): void {
  const groups = args[args.indexOf('-G') + 1]!.split(',');
  const user = args.at(-1)!;
  const lines = read('/etc/group')
    .trimEnd()
    .split('\n')
    .map((line) => {
      const [name, x, gid, members = ''] = line.split(':');
      if (!groups.includes(name!)) return line;
      const list = members.split(',').filter(Boolean);
      return [name, x, gid, [...new Set([...list, user])].join(',')].join(':');
    });
  write('/etc/group', `${lines.join('\n')}\n`);
}

const ctx = (): ToolContext => ({
  root,
  run: async (cmd, args): Promise<RunResult> => {
    calls.push([cmd, ...args]);
    if (cmd === 'usermod') emulateUsermod(args);
    if (cmd === 'systemctl' && args[0] === 'is-active') {
      const code = unitCodes[args.at(-1)!] ?? 3;
      return { code, stdout: code === 0 ? 'active\n' : 'inactive\n', stderr: '' };
    }
    return { code: 0, stdout: '', stderr: '' };
  },
  out: (line) => out.push(line),
  err: (line) => err.push(line),
});

async function tool(...argv: string[]): Promise<number> {
  out = [];
  err = [];
  return main(argv, ctx());
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vdsm-tool-'));
  calls = [];
  unitCodes = {};
  write(
    '/etc/passwd',
    'root:x:0:0::/root:/bin/sh\nvdsm:x:36:36::/var/lib/vdsm:/sbin/nologin\nsanlock:x:179:179::/run/sanlock:/sbin/nologin\n',
  );
  write('/etc/group', 'root:x:0:\nkvm:x:36:\nsanlock:x:179:\nqemu:x:107:\nlibvirt:x:108:\n');
  write('/etc/machine-id', `${MACHINE_ID}\n`);
  write('/etc/libvirt/qemu.conf', QEMU_CONF, 0o600);
  write('/etc/libvirt/qemu-sanlock.conf', QEMU_SANLOCK_CONF);
  write('/etc/vdsm/vdsm.conf', '[vars]\nssl = false\n');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('configure --module libvirt', () => {
  const section = (...lines: string[]) => [BEGIN, ...lines, END, ''].join('\n');

  it('appends our section to qemu.conf and qemu-sanlock.conf, keeping every other byte, with backups', async () => {
    expect(await tool('configure', '--module', 'libvirt')).toBe(0);
    expect(read('/etc/libvirt/qemu.conf')).toBe(QEMU_CONF + section('lock_manager = "sanlock"'));
    expect(read('/etc/libvirt/qemu-sanlock.conf')).toBe(
      QEMU_SANLOCK_CONF + section('auto_disk_leases = 0', 'require_lease_for_disks = 0'),
    );
    expect(read('/etc/libvirt/qemu.conf.vdsm-ts.bak')).toBe(QEMU_CONF);
    expect(read('/etc/libvirt/qemu-sanlock.conf.vdsm-ts.bak')).toBe(QEMU_SANLOCK_CONF);
    expect(statSync(file('/etc/libvirt/qemu.conf')).mode & 0o777, 'the mode is kept').toBe(0o600);
    expect(calls).toContainEqual(['usermod', '--prefix', root, '-a', '-G', 'libvirt', 'vdsm']);
    expect(out).toContain('libvirt: configured');
  });

  it('is idempotent: a second run writes the same bytes and no second backup', async () => {
    await tool('configure', '--module', 'qemu');
    const first = read('/etc/libvirt/qemu.conf');
    rmSync(file('/etc/libvirt/qemu.conf.vdsm-ts.bak'));
    calls = [];
    expect(await tool('configure', '--module', 'qemu')).toBe(0);
    expect(read('/etc/libvirt/qemu.conf')).toBe(first);
    expect(existsSync(file('/etc/libvirt/qemu.conf.vdsm-ts.bak'))).toBe(false);
    expect(calls.filter((c) => c[0] === 'usermod')).toEqual([]);
    expect(out).toEqual(['libvirt: already configured']);
  });

  it('leaves a file that already holds our section alone when another file of the module needs it', async () => {
    await tool('configure', '--module', 'libvirt');
    const configured = read('/etc/libvirt/qemu.conf');
    rmSync(file('/etc/libvirt/qemu.conf.vdsm-ts.bak'));
    write('/etc/libvirt/qemu-sanlock.conf', QEMU_SANLOCK_CONF);
    expect(await tool('configure', '--module', 'libvirt')).toBe(0);
    expect(out).toEqual([
      'libvirt: /etc/libvirt/qemu-sanlock.conf: vdsm-ts section written (previous content in /etc/libvirt/qemu-sanlock.conf.vdsm-ts.bak)',
      'libvirt: configured',
    ]);
    expect(read('/etc/libvirt/qemu.conf')).toBe(configured);
    expect(existsSync(file('/etc/libvirt/qemu.conf.vdsm-ts.bak')), 'no change, no backup').toBe(false);
  });

  it('is-configured says what is missing before, exit 0 after', async () => {
    expect(await tool('is-configured', '--module', 'libvirt')).toBe(1);
    expect(out).toEqual([
      'libvirt: /etc/libvirt/qemu.conf: no vdsm-ts section (lock_manager = "sanlock")',
      'libvirt: /etc/libvirt/qemu-sanlock.conf: no vdsm-ts section (auto_disk_leases = 0, require_lease_for_disks = 0)',
      'libvirt: user vdsm may not use qemu:///system: no polkit rule names it, and it is not in group libvirt',
    ]);
    expect(err.join('\n')).toMatch(/modules libvirt are not configured/);
    await tool('configure', '--module', 'libvirt');
    expect(await tool('is-configured', '--module', 'libvirt')).toBe(0);
  });

  it('remove-config restores the files as they were, and again changes nothing', async () => {
    await tool('configure', '--module', 'libvirt');
    expect(await tool('remove-config', '--module', 'libvirt')).toBe(0);
    expect(read('/etc/libvirt/qemu.conf')).toBe(QEMU_CONF);
    expect(read('/etc/libvirt/qemu-sanlock.conf')).toBe(QEMU_SANLOCK_CONF);
    expect(await tool('remove-config', '--module', 'libvirt')).toBe(0);
    expect(read('/etc/libvirt/qemu.conf')).toBe(QEMU_CONF);
    expect(out).toEqual(['libvirt: nothing to remove']);
  });

  it("comments out the admin's own lock_manager, also one added after our section, and restores it on removal", async () => {
    const admin = 'user = "qemu"\nlock_manager = "lockd"\nmax_files = 4096\n';
    write('/etc/libvirt/qemu.conf', admin);
    await tool('configure', '--module', 'libvirt');
    const configured =
      'user = "qemu"\n# vdsm-ts disabled: lock_manager = "lockd"\nmax_files = 4096\n' +
      section('lock_manager = "sanlock"');
    expect(read('/etc/libvirt/qemu.conf')).toBe(configured);

    write('/etc/libvirt/qemu.conf', `${configured}  lock_manager="lockd"\n`);
    expect(await tool('is-configured', '--module', 'libvirt')).toBe(1);
    expect(out).toEqual([
      'libvirt: /etc/libvirt/qemu.conf: line 7 "lock_manager="lockd"" assigns a key of the vdsm-ts section again',
    ]);
    await tool('configure', '--module', 'libvirt');
    expect(read('/etc/libvirt/qemu.conf')).toBe(
      'user = "qemu"\n# vdsm-ts disabled: lock_manager = "lockd"\nmax_files = 4096\n' +
        '# vdsm-ts disabled:   lock_manager="lockd"\n' +
        section('lock_manager = "sanlock"'),
    );
    await tool('remove-config', '--module', 'libvirt');
    expect(read('/etc/libvirt/qemu.conf')).toBe(`${admin}  lock_manager="lockd"\n`);
  });

  it("takes the package's polkit rule for vdsm's access to qemu:///system: no group then", async () => {
    write(
      '/usr/share/polkit-1/rules.d/10-vdsm-ts-libvirt-access.rules',
      readFileSync(new URL('../rpm/10-vdsm-ts-libvirt-access.rules', import.meta.url), 'utf8'),
    );
    await tool('configure', '--module', 'libvirt');
    expect(calls).toEqual([]);
    expect(await tool('is-configured', '--module', 'libvirt')).toBe(0);
  });

  it('without a polkit rule and a libvirt group, says vdsm cannot reach libvirt, and configure fails', async () => {
    write('/etc/group', 'root:x:0:\nkvm:x:36:\n');
    expect(await tool('configure', '--module', 'libvirt')).toBe(1);
    expect(err).toEqual([
      'libvirt: still not configured: user vdsm may not use qemu:///system: no polkit rule in /etc/polkit-1/rules.d ' +
        'or /usr/share/polkit-1/rules.d allows it org.libvirt.unix.manage, and there is no group libvirt',
      'vdsm-tool: configure could not finish libvirt',
    ]);
  });

  it('creates qemu-sanlock.conf when missing, and removes it again', async () => {
    rmSync(file('/etc/libvirt/qemu-sanlock.conf'));
    await tool('configure', '--module', 'libvirt');
    expect(read('/etc/libvirt/qemu-sanlock.conf')).toBe(section('auto_disk_leases = 0', 'require_lease_for_disks = 0'));
    expect(existsSync(file('/etc/libvirt/qemu-sanlock.conf.vdsm-ts.bak'))).toBe(false);
    await tool('remove-config', '--module', 'libvirt');
    expect(existsSync(file('/etc/libvirt/qemu-sanlock.conf'))).toBe(false);
  });

  it('refuses while vdsmd runs, and with --force configures, then restarts libvirtd and vdsmd in that order', async () => {
    mkdirSync(file('/run/systemd/system'), { recursive: true });
    unitCodes = { vdsmd: 0, libvirtd: 0 };
    expect(await tool('configure', '--module', 'libvirt')).toBe(1);
    expect(err[0]).toBe(
      'vdsm-tool: cannot configure libvirt while libvirtd, vdsmd are running: stop them, or use --force (configure, then restart them)',
    );
    expect(read('/etc/libvirt/qemu.conf'), 'nothing written').toBe(QEMU_CONF);
    expect(calls.filter((c) => c[0] !== 'systemctl')).toEqual([]);

    calls = [];
    expect(await tool('configure', '--module', 'libvirt', '--force')).toBe(0);
    expect(read('/etc/libvirt/qemu.conf')).toBe(QEMU_CONF + section('lock_manager = "sanlock"'));
    expect(calls.filter((c) => c[1] === 'restart')).toEqual([
      ['systemctl', 'restart', 'libvirtd'],
      ['systemctl', 'restart', 'vdsmd'],
    ]);
  });

  it('a configured module needs no --force while its services run', async () => {
    await tool('configure', '--module', 'libvirt');
    mkdirSync(file('/run/systemd/system'), { recursive: true });
    unitCodes = { vdsmd: 0 };
    calls = [];
    expect(await tool('configure', '--module', 'libvirt')).toBe(0);
    expect(calls).toEqual([]);
  });
});

describe('configure --module sanlock', () => {
  it('adds sanlock to kvm and QEMU’s group and names the host in sanlock.conf', async () => {
    expect(await tool('is-configured', '--module', 'sanlock')).toBe(1);
    expect(out).toEqual([
      'sanlock: user sanlock is not in groups kvm, qemu',
      'sanlock: /etc/sanlock/sanlock.conf: missing',
    ]);
    expect(await tool('configure', '--module', 'sanlock')).toBe(0);
    expect(calls).toEqual([['usermod', '--prefix', root, '-a', '-G', 'kvm,qemu', 'sanlock']]);
    expect(read('/etc/sanlock/sanlock.conf')).toBe(`${BEGIN}\nour_host_name = ${HOST_UUID}\n${END}\n`);
    expect(await tool('is-configured', '--module', 'sanlock')).toBe(0);
  });

  it("takes QEMU's group from qemu.conf", async () => {
    write('/etc/libvirt/qemu.conf', 'group = "libvirt-qemu"\n');
    write('/etc/group', `${read('/etc/group')}libvirt-qemu:x:64055:\n`);
    await tool('configure', '--module', 'sanlock');
    expect(calls).toEqual([['usermod', '--prefix', root, '-a', '-G', 'kvm,libvirt-qemu', 'sanlock']]);
  });
});

describe('configure --module certificates', () => {
  const PKI = '/etc/pki/vdsm';
  beforeEach(() => write('/etc/vdsm/vdsm.conf', '[vars]\nssl = true\n'));

  it('makes a CA and a host certificate it signs, for server and client use, owned vdsm:kvm', async () => {
    expect(await tool('configure', '--module', 'certificates')).toBe(0);
    const key = file(`${PKI}/keys/vdsmkey.pem`);
    const cert = file(`${PKI}/certs/vdsmcert.pem`);
    const ca = file(`${PKI}/certs/cacert.pem`);
    for (const purpose of ['sslserver', 'sslclient'])
      expect(execFileSync('openssl', ['verify', '-purpose', purpose, '-CAfile', ca, cert], { encoding: 'utf8' })).toBe(
        `${cert}: OK\n`,
      );
    const pub = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });
    expect(pub(['pkey', '-in', key, '-pubout']), 'the key is the certificate’s').toBe(
      pub(['x509', '-in', cert, '-noout', '-pubkey']),
    );
    expect(statSync(key).mode & 0o777).toBe(0o400);
    expect(statSync(cert).mode & 0o777).toBe(0o440);
    expect(statSync(ca).mode & 0o777).toBe(0o440);
    expect(calls.map((c) => c.slice(0, 2))).toEqual([
      ['chown', '36:36'],
      ['chown', '36:36'],
      ['chown', '36:36'],
    ]);
    expect(readdirNames(`${PKI}/keys`), 'no CA key and no scratch files left').toEqual(['vdsmkey.pem']);
    expect(await tool('is-configured', '--module', 'certificates')).toBe(0);
  });

  it('never replaces existing files', async () => {
    await tool('configure', '--module', 'certificates');
    const before = read(`${PKI}/certs/vdsmcert.pem`) + read(`${PKI}/keys/vdsmkey.pem`);
    calls = [];
    expect(await tool('configure', '--module', 'certificates')).toBe(0);
    expect(read(`${PKI}/certs/vdsmcert.pem`) + read(`${PKI}/keys/vdsmkey.pem`)).toBe(before);
    expect(calls).toEqual([]);
  });

  it('refuses to make a host certificate when a CA it has no key of is there', async () => {
    write(`${PKI}/certs/cacert.pem`, 'the engine CA\n');
    expect(await tool('configure')).toBe(1);
    expect(err[0]).toMatch(/^certificates: .*vdsmcert\.pem is missing but \/etc\/pki\/vdsm\/certs\/cacert\.pem exists/);
    expect(err.at(-1)).toBe('vdsm-tool: configure could not finish certificates');
    expect(out, 'the other modules are configured all the same').toEqual(
      expect.arrayContaining(['libvirt: configured', 'sanlock: configured']),
    );
    expect(read(`${PKI}/certs/cacert.pem`)).toBe('the engine CA\n');
    expect(existsSync(file(`${PKI}/keys/vdsmkey.pem`))).toBe(false);
  });

  it('needs nothing when vdsm.conf turns TLS off', async () => {
    write('/etc/vdsm/vdsm.conf', '[vars]\nssl = false\n');
    expect(await tool('is-configured', '--module', 'certificates')).toBe(0);
  });

  function readdirNames(dir: string): string[] {
    return execFileSync('ls', ['-A', file(dir)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
  }
});

describe('validate-config', () => {
  it('accepts a good vdsm.conf and reports a bad one as vdsmd would', async () => {
    expect(await tool('validate-config')).toBe(0);
    expect(err).toEqual([]);
    write('/etc/vdsm/vdsm.conf', '[vars]\nssl = false\n[addresses]\nmanagement_port = http\n');
    expect(await tool('validate-config')).toBe(1);
    expect(err).toEqual([
      `/etc/vdsm/vdsm.conf: port must be a number from 0 to 65535, not "http" ([addresses] management_port in ${file('/etc/vdsm/vdsm.conf')})`,
    ]);
  });

  it('reads the drop-ins', async () => {
    write('/etc/vdsm/vdsm.conf.d/50-x.conf', '[vars]\nssl = maybe\n');
    expect(await tool('validate-config')).toBe(1);
    expect(err[0]).toMatch(/ssl must be true or false, not "maybe"/);
  });

  it('with ssl = true, needs the TLS files, and takes the ones configure makes', async () => {
    write('/etc/vdsm/vdsm.conf', '[vars]\nssl = true\n');
    expect(await tool('validate-config')).toBe(1);
    expect(err[0]).toBe(
      '/etc/vdsm/vdsm.conf: ssl is on but ssl_key /etc/pki/vdsm/keys/vdsmkey.pem cannot be read (ENOENT)',
    );
    await tool('configure', '--module', 'certificates');
    expect(await tool('validate-config')).toBe(0);
  });

  it('a missing vdsm.conf is an error (the unit runs vdsmd with --config on it)', async () => {
    rmSync(file('/etc/vdsm/vdsm.conf'));
    expect(await tool('validate-config')).toBe(1);
    expect(err[0]).toMatch(/cannot read config file .*ENOENT/);
  });
});

describe('service verbs', () => {
  it('without systemd: a clear error, exit 1, nothing run', async () => {
    expect(await tool('service-restart', 'vdsmd')).toBe(1);
    expect(err).toEqual([
      'vdsm-tool: cannot restart vdsmd: systemd is not running on this host (no /run/systemd/system)',
    ]);
    expect(calls).toEqual([]);
  });

  it('with systemd: systemctl on our unit; service-status exits 0 only when active', async () => {
    mkdirSync(file('/run/systemd/system'), { recursive: true });
    expect(await tool('service-restart', 'vdsmd')).toBe(0);
    expect(await tool('service-stop', 'ovirt-ha-agent')).toBe(0);
    expect(calls).toEqual([
      ['systemctl', 'restart', 'vdsmd.service'],
      ['systemctl', 'stop', 'ovirt-ha-agent.service'],
    ]);
    expect(await tool('service-status', 'vdsmd')).toBe(3);
    expect(out).toEqual(['vdsmd: inactive']);
    unitCodes = { 'vdsmd.service': 0 };
    expect(await tool('service-status', 'vdsmd')).toBe(0);
  });

  it('refuses units that are not ours', async () => {
    mkdirSync(file('/run/systemd/system'), { recursive: true });
    expect(await tool('service-stop', 'sshd')).toBe(1);
    expect(err[0]).toMatch(/^vdsm-tool: unknown service 'sshd' \(services: vdsmd, /);
    expect(calls).toEqual([]);
  });
});

describe('usage', () => {
  it('an unknown verb or module is exit 1 with the reason', async () => {
    expect(await tool('frobnicate')).toBe(1);
    expect(err[0]).toBe("vdsm-tool: unknown verb 'frobnicate'");
    expect(err[1]).toMatch(/^Usage: vdsm-tool VERB/);
    expect(await tool('configure', '--module', 'multipath')).toBe(1);
    expect(err[0]).toBe("vdsm-tool: unknown module 'multipath' (modules: certificates, libvirt, qemu, sanlock)");
    expect(await tool('is-configured', '--force')).toBe(1);
    expect(err[0]).toBe("vdsm-tool: --force does not apply to 'is-configured'");
  });
});
