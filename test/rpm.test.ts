// Builds the RPM with rpm/build.sh and installs it into a scratch root.
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
};
const app = '/usr/lib/vdsm-ts';
const dbpath = ['--define', '_dbpath /var/lib/rpm'];

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
  let root = '';

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
    rpmFile = build.stdout.trim().split('\n').pop()!;
    root = join(tmp, 'root');
    mkdirSync(root);
  }, 240_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('builds an x86_64 rpm (the libvirt addon is native) carrying the version from package.json', () => {
    expect(existsSync(rpmFile)).toBe(true);
    expect(rpmFile).toMatch(new RegExp(`/vdsm-ts-${pkgJson.version.replaceAll('-', '~')}-1\\.x86_64\\.rpm$`));
  });

  it('lists the expected files, and only production dependencies', () => {
    const files = run('rpm', ['-qpl', rpmFile]).split('\n');
    for (const f of [
      '/usr/bin/vdsmd',
      '/usr/bin/vdsm-client',
      '/usr/bin/hosted-engine',
      '/usr/bin/he-broker',
      '/usr/bin/he-agent',
      '/usr/lib/systemd/system/vdsmd.service',
      '/usr/lib/systemd/system/vdsm-ts-ha-broker.service',
      '/usr/lib/systemd/system/vdsm-ts-ha-agent.service',
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
    const requires = run('rpm', ['-qp', '--requires', rpmFile]).split('\n');
    expect(requires).toContain('nodejs(engine) >= 20');
    expect(requires).toContain('/usr/bin/node');
    expect(requires).toContain('libvirt.so.0()(64bit)'); // from the addon's ELF
    expect(requires.filter((r) => r.startsWith('npm(') || r.includes('node_modules'))).toEqual([]);

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
    run('rpm', ['--root', root, ...dbpath, '-i', '--nodeps', rpmFile]);
    expect(run('rpm', ['--root', root, ...dbpath, '-q', 'vdsm-ts']).trim()).toBe(
      `vdsm-ts-${pkgJson.version.replaceAll('-', '~')}-1.x86_64`,
    );

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
    for (const unit of ['vdsm-ts-ha-broker.service', 'vdsm-ts-ha-agent.service']) {
      expect(readFileSync(join(root, '/usr/lib/systemd/system', unit), 'utf8')).toContain(
        'ConditionFileNotEmpty=/etc/ovirt-hosted-engine/hosted-engine.conf',
      );
    }
  });

  it('erases cleanly from the scratch root', () => {
    run('rpm', ['--root', root, ...dbpath, '-e', 'vdsm-ts']);
    expect(existsSync(join(root, '/usr/bin/vdsmd'))).toBe(false);
    expect(existsSync(join(root, app))).toBe(false);
  });
});
