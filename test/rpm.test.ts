// Builds the RPMs with rpm/build.sh and installs them into a scratch root (test/rpm-systemd.test.ts boots them).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './support/run-command.js';
import { missing } from './support/peers.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const pkgJson = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
};
const app = '/usr/lib/vdsm-ts';
const dbpath = ['--define', '_dbpath /var/lib/rpm'];
const rpmVersion = pkgJson.version.replaceAll('-', '~');
const PACKAGES = ['vdsm-ts', 'vdsm-ts-common', 'vdsm-ts-fence-agents', 'vdsm-ts-coordinator'];

const noRpmbuild = missing('rpmbuild (Debian rpm)', spawnSync('sh', ['-c', 'command -v rpmbuild']).status !== 0);

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { ...opts, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

// rpm runs scriptlets chrooted into the target root, so give it a /bin/sh
// (plus the libraries it links) and, when we can, /dev/null. That lets the
// real %pre/%post/%preun/%postun run and prove they tolerate a root without
// useradd, systemctl or a running systemd.
function seedShell(root: string): void {
  const sh = realpathSync('/bin/sh');
  const libs = [...execFileSync('ldd', [sh], { encoding: 'utf8' }).matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
  const files: Array<[string, string]> = [[sh, '/bin/sh'], ...libs.map((l): [string, string] => [l, l])];
  for (const [from, to] of files) {
    mkdirSync(dirname(join(root, to)), { recursive: true });
    copyFileSync(from, join(root, to));
  }
  execFileSync('chmod', ['0755', join(root, 'bin/sh')]);
  if (process.getuid?.() === 0) {
    mkdirSync(join(root, 'dev'));
    execFileSync('mknod', ['-m', '0666', join(root, 'dev/null'), 'c', '1', '3']);
  }
}

describe.skipIf(noRpmbuild)('rpm package', () => {
  let tmp = '';
  let rpmFile = '';
  let rpmFiles: string[] = [];
  let root = '';
  const pkg = (name: string) => rpmFiles.find((f) => f.endsWith(`/${name}-${rpmVersion}-1.x86_64.rpm`))!;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'vdsm-rpm-test-'));
    // Asynchronous: the build takes a minute or more on a loaded machine, and a worker whose event loop is blocked
    // that long misses vitest's 60 s RPC deadline ("Timeout calling onTaskUpdate", an unhandled error failing CI).
    const build = await runCommand('bash', [join(repo, 'rpm/build.sh'), join(tmp, 'out')], {
      cwd: repo,
      env: process.env,
      timeoutMs: 230_000,
    });
    if (build.code !== 0) throw new Error(`rpm/build.sh exited ${build.code}\n${build.stdout}\n${build.stderr}`);
    rpmFiles = build.stdout.trim().split('\n');
    rpmFile = pkg('vdsm-ts');
    root = join(tmp, 'root');
    mkdirSync(root);
  }, 240_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('builds four x86_64 rpms (the libvirt addon is native) carrying the version from package.json', () => {
    expect(rpmFiles).toHaveLength(4);
    for (const name of PACKAGES) expect(existsSync(pkg(name)), name).toBe(true);
  });

  it('puts each file in its package: agents and man pages, the coordinator, the shared runtime', () => {
    const list = (name: string) => run('rpm', ['-qpl', pkg(name)]).split('\n');
    const agents = Object.keys(pkgJson.bin)
      .filter((n) => n.startsWith('fence_'))
      .sort();
    const fence = list('vdsm-ts-fence-agents');
    expect(fence.filter((f) => f.startsWith('/usr/sbin/')).sort()).toEqual(agents.map((a) => `/usr/sbin/${a}`));
    expect(fence.filter((f) => f.includes('/man8/')).sort()).toEqual(agents.map((a) => `/usr/share/man/man8/${a}.8`));
    expect(list('vdsm-ts-coordinator')).toEqual(
      expect.arrayContaining(['/usr/bin/vdsm-ts-coordinator', '/usr/lib/systemd/system/vdsm-ts-coordinator.service']),
    );
    const common = list('vdsm-ts-common');
    expect(common).toContain(`${app}/dist/fence/fence_ipmilan.js`);
    expect(
      common.filter((f) => f.startsWith('/usr/bin/') || f.startsWith('/usr/sbin/') || f.endsWith('.node')),
    ).toEqual([]);
  });

  it('lists the expected files, and only production dependencies', () => {
    const files = [rpmFile, pkg('vdsm-ts-common')].flatMap((f) => run('rpm', ['-qpl', f]).split('\n'));
    for (const f of [
      '/usr/bin/vdsmd',
      '/usr/bin/vdsm-client',
      '/usr/bin/hosted-engine',
      '/usr/bin/he-broker',
      '/usr/bin/he-agent',
      '/usr/bin/vdsm-tool',
      '/usr/lib/systemd/system/vdsmd.service',
      '/usr/lib/systemd/system/ovirt-ha-broker.service',
      '/usr/lib/systemd/system/ovirt-ha-agent.service',
      '/usr/share/polkit-1/rules.d/10-vdsm-ts-libvirt-access.rules',
      '/usr/lib/tmpfiles.d/vdsm-ts.conf',
      '/etc/vdsm/vdsm.conf',
      '/etc/pki/vdsm/keys',
      '/etc/pki/vdsm/certs',
      '/var/log/vdsm',
      '/run/vdsm',
      `${app}/package.json`,
      `${app}/dist/cli/vdsmd.js`,
      `${app}/dist/cli/vdsm-client.js`,
      `${app}/build/Release/vdsm_libvirt.node`,
      ...Object.keys(pkgJson.dependencies).map((d) => `${app}/node_modules/${d}/package.json`),
    ]) {
      expect(files).toContain(f);
    }
    for (const dev of ['typescript', 'vitest', 'tsup', 'tsx', '.bin']) {
      expect(files).not.toContain(`${app}/node_modules/${dev}`);
    }
    const flags = run('rpm', ['-qp', '--qf', '[%{FILEFLAGS:fflags} %{FILENAMES}\n]', rpmFile]);
    expect(flags).toMatch(/^cn \/etc\/vdsm\/vdsm\.conf$/m); // %config(noreplace)
  });

  it('declares sensible requires and guarded scriptlets', () => {
    const requires = (name: string) => run('rpm', ['-qp', '--requires', pkg(name)]).split('\n');
    const common = requires('vdsm-ts-common');
    expect(common).toContain('nodejs(engine) >= 20');
    expect(common).toContain('/usr/bin/node');
    expect(requires('vdsm-ts')).toContain('libvirt.so.0()(64bit)'); // from the addon's ELF
    expect(requires('vdsm-ts')).toContain(`vdsm-ts-fence-agents = ${rpmVersion}-1`);
    expect(requires('vdsm-ts-fence-agents')).toContain('/usr/bin/ipmitool');
    expect(requires('vdsm-ts-coordinator')).toContain('/usr/bin/etcd');
    for (const name of PACKAGES) {
      expect(requires(name).filter((r) => r.startsWith('npm(') || r.includes('node_modules'))).toEqual([]);
    }
    const conflicts = run('rpm', ['-qp', '--conflicts', pkg('vdsm-ts-fence-agents')]).split('\n');
    expect(conflicts).toEqual(expect.arrayContaining(['fence-agents-ipmilan', 'fence-agents-apc-snmp']));

    const scripts = run('rpm', ['-qp', '--scripts', rpmFile]);
    for (const phase of ['preinstall', 'postinstall', 'preuninstall', 'postuninstall']) {
      expect(scripts).toContain(`${phase} scriptlet`);
    }
    expect(scripts).toContain('useradd');
    const systemctlLines = scripts.split('\n').filter((l) => /\bsystemctl /.test(l) && !l.includes('command -v'));
    expect(systemctlLines.length).toBeGreaterThan(0);
    for (const l of systemctlLines) expect(l.trimEnd()).toMatch(/\|\| :$/);
  });

  it('installs into a scratch root with its scriptlets', () => {
    seedShell(root);
    run('rpm', ['--root', root, ...dbpath, '-i', '--nodeps', ...rpmFiles]);
    expect(
      run('rpm', ['--root', root, ...dbpath, '-q', ...PACKAGES])
        .trim()
        .split('\n'),
    ).toEqual(PACKAGES.map((name) => `${name}-${rpmVersion}-1.x86_64`));

    const mode = (p: string) => statSync(join(root, p)).mode & 0o7777;
    expect(mode('/usr/bin/vdsmd')).toBe(0o755);
    expect(mode('/usr/bin/vdsm-client')).toBe(0o755);
    expect(readFileSync(join(root, '/usr/bin/vdsmd'), 'utf8')).toContain(
      `exec /usr/bin/node ${app}/dist/cli/vdsmd.js "$@"`,
    );
    expect(statSync(join(root, '/etc/vdsm/vdsm.conf')).isFile()).toBe(true);
    expect(mode('/etc/vdsm/vdsm.conf')).toBe(0o644);
    expect(readFileSync(join(root, '/etc/vdsm/vdsm.conf'), 'utf8')).toMatch(/^management_port = 54321$/m);
    expect(readFileSync(join(root, '/usr/lib/systemd/system/vdsmd.service'), 'utf8')).toContain(
      'ExecStart=/usr/bin/vdsmd --config /etc/vdsm/vdsm.conf',
    );
    expect(mode('/etc/pki/vdsm/keys')).toBe(0o750);
    expect(statSync(join(root, '/var/log/vdsm')).isDirectory()).toBe(true);
  }, 60_000);

  it('resolves every runtime dependency from the installed tree', () => {
    const imports = Object.keys(pkgJson.dependencies).map((d) => `await import(${JSON.stringify(d)});`);
    run(process.execPath, ['--input-type=module', '-e', imports.join('\n')], { cwd: join(root, app) });
  });

  it('loads the installed libvirt addon and opens the test driver with it', () => {
    const addon = join(root, app, 'build/Release/vdsm_libvirt.node');
    const out = run(process.execPath, [
      '-e',
      `const lv = require(${JSON.stringify(addon)}); lv.open('test:///default', () => {}, () => {}).then(c => c.listDomains()).then(d => console.log(d.length, lv.libvirtVersion()))`,
    ]);
    expect(out.trim()).toMatch(/^1 \d{7,}$/);
  });

  it('runs the installed vdsmd --help', () => {
    const r = spawnSync(process.execPath, [join(root, app, 'dist/cli/vdsmd.js'), '--help'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('management_port');
  });

  it('runs the installed hosted-engine tool; its units only start where hosted-engine is deployed', () => {
    const r = spawnSync(
      process.execPath,
      [join(root, app, 'dist/cli/hosted-engine.js'), '--conf', join(root, 'nope.conf'), '--check-deployed'],
      { encoding: 'utf8' },
    );
    expect([r.status, r.stdout]).toEqual([1, 'Hosted Engine has not been deployed\n']);
    for (const unit of ['ovirt-ha-broker.service', 'ovirt-ha-agent.service']) {
      expect(readFileSync(join(root, '/usr/lib/systemd/system', unit), 'utf8')).toContain(
        'ConditionFileNotEmpty=/etc/ovirt-hosted-engine/hosted-engine.conf',
      );
    }
  });

  it('erases cleanly from the scratch root', () => {
    run('rpm', ['--root', root, ...dbpath, '-e', ...PACKAGES]);
    expect(existsSync(join(root, '/usr/bin/vdsmd'))).toBe(false);
    expect(existsSync(join(root, app))).toBe(false);
  });
});
