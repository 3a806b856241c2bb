import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig } from '../src/cli/config.js';
import { readConfigLayers } from '../src/cli/config-files.js';
import { SETTINGS } from '../src/cli/settings.js';
import { runChecked, runCommand } from './support/run-command.js';
import { makePki, startVdsmdProcess, VDSMD } from './support/vdsmd-process.js';

const dir = mkdtempSync(join(tmpdir(), 'vdsm-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function conf(text: string): string {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, text);
  return file;
}

describe('configuration', () => {
  it('without a config file runs the embedded default: plaintext on 127.0.0.1:54321', () => {
    const c = loadConfig([], { VDSM_CONFIG: undefined });
    if (c === 'help') throw new Error('unexpected');
    // /etc/vdsm/vdsm.conf does not exist on test machines; if it ever does, this default does not apply.
    expect(c).toMatchObject({ bind: '127.0.0.1', port: 54321, ssl: false, configFile: null });
  });

  it('with a config file defaults to TLS on ::, and reads the INI keys', () => {
    const c = loadConfig(['--config', conf('[vars]\nssl_ca = /x/ca.pem\n')], {});
    expect(c).toMatchObject({ bind: '::', port: 54321, ssl: true, sslCa: '/x/ca.pem' });
    const d = loadConfig(
      [
        '--config',
        conf(
          '[addresses]\nmanagement_port = 5999\nmanagement_ip = 10.0.0.1\n[vars]\nssl = false\n[logging]\nlevel = debug\n',
        ),
      ],
      {},
    );
    expect(d).toMatchObject({ bind: '10.0.0.1', port: 5999, ssl: false, logLevel: 'debug' });
  });

  it('lets environment override the file, and flags override both', () => {
    const file = conf('[addresses]\nmanagement_port = 1111\n');
    expect(loadConfig(['--config', file], { VDSM_PORT: '2222' })).toMatchObject({ port: 2222 });
    expect(loadConfig(['--config', file, '--port', '3333'], { VDSM_PORT: '2222' })).toMatchObject({ port: 3333 });
    expect(loadConfig([], { VDSM_CONFIG: file })).toMatchObject({ port: 1111, ssl: true });
  });

  it('rejects bad values with a clear message', () => {
    expect(() => loadConfig(['--port', '70000'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--ssl', 'maybe'], {})).toThrow(/ssl must be true or false/);
    expect(() => loadConfig(['--log-level', 'loud'], {})).toThrow(/log level/);
    expect(() => loadConfig(['--config', join(dir, 'missing.conf')], {})).toThrow(/cannot read config file/);
    expect(() => loadConfig(['--frobnicate'], {})).toThrow(/frobnicate/);
  });

  describe('drop-ins (FILE.d/*.conf)', () => {
    /** A vdsm.conf with the given drop-ins beside it, written last name first so that directory order cannot help. */
    function withDropIns(main: string, dropIns: Record<string, string>): string {
      const base = mkdtempSync(join(dir, 'dropins-'));
      const file = join(base, 'vdsm.conf');
      writeFileSync(file, main);
      mkdirSync(`${file}.d`);
      for (const [name, text] of Object.entries(dropIns).reverse()) writeFileSync(join(`${file}.d`, name), text);
      return file;
    }

    it('override vdsm.conf key by key, and still yield to the environment and flags', () => {
      const file = withDropIns('[addresses]\nmanagement_port = 1111\nmanagement_ip = 10.0.0.1\n', {
        '50-port.conf': '[addresses]\nmanagement_port = 2222\n',
      });
      expect(loadConfig(['--config', file], {})).toMatchObject({ port: 2222, bind: '10.0.0.1' });
      expect(loadConfig(['--config', file], { VDSM_PORT: '3333' })).toMatchObject({ port: 3333 });
      expect(loadConfig(['--config', file, '--port', '4444'], { VDSM_PORT: '3333' })).toMatchObject({ port: 4444 });
    });

    it('apply in lexical order of their names, the last one winning', () => {
      const file = withDropIns('[addresses]\nmanagement_port = 1111\n', {
        '10-a.conf': '[addresses]\nmanagement_port = 2222\n[logging]\nlevel = debug\n',
        '9-b.conf': '[addresses]\nmanagement_port = 3333\n',
      });
      // "9-b" sorts after "10-a": names, not numbers, decide.
      expect(loadConfig(['--config', file], {})).toMatchObject({ port: 3333, logLevel: 'debug' });
    });

    it('only *.conf files count, hidden ones not', () => {
      const file = withDropIns('[addresses]\nmanagement_port = 1111\n', {
        '50-port.conf': '[addresses]\nmanagement_port = 2222\n',
        '60-port.conf.rpmsave': '[addresses]\nmanagement_port = 3333\n',
        '70-port.txt': '[addresses]\nmanagement_port = 4444\n',
        '.80-level.conf': '[logging]\nlevel = debug\n',
        '90-port.conf~': 'not an INI file at all',
      });
      expect(loadConfig(['--config', file], {})).toMatchObject({ port: 2222, logLevel: 'info' });
    });

    it("the vendor's and run-time drop-in directories sort with the admin's by file name (as vdsm's)", () => {
      const file = withDropIns('[addresses]\nmanagement_port = 1111\n', {
        '50-admin.conf': '[addresses]\nmanagement_port = 2222\n',
      });
      const vendor = mkdtempSync(join(dir, 'vendor-'));
      const run = mkdtempSync(join(dir, 'run-'));
      writeFileSync(join(vendor, '90-package.conf'), '[addresses]\nmanagement_port = 3333\n');
      writeFileSync(join(run, '10-early.conf'), '[addresses]\nmanagement_port = 4444\n');
      writeFileSync(join(run, '50-admin.conf'), '[addresses]\nmanagement_port = 5555\n');
      const layers = readConfigLayers(file, [vendor, run]);
      // 10-early (run), 50-admin (run, then the admin's own: same name, directory order), 90-package (vendor).
      expect(layers.map((l) => l.file)).toEqual([
        file,
        join(run, '10-early.conf'),
        join(run, '50-admin.conf'),
        join(`${file}.d`, '50-admin.conf'),
        join(vendor, '90-package.conf'),
      ]);
      expect(readConfigLayers(file).map((l) => l.file)).toEqual([file, join(`${file}.d`, '50-admin.conf')]);
    });

    it('a bad drop-in is refused with a message naming the file', () => {
      const badValue = withDropIns('', {
        '10-ok.conf': '[vars]\nssl = false\n',
        '50-port.conf': '[addresses]\nmanagement_port = lots\n',
      });
      expect(() => loadConfig(['--config', badValue], {})).toThrow(ConfigError);
      expect(() => loadConfig(['--config', badValue], {})).toThrow(
        `port must be a number from 0 to 65535, not "lots" ([addresses] management_port in ${badValue}.d/50-port.conf)`,
      );
      const badLine = withDropIns('', { '50-port.conf': '[addresses]\nmanagement_port 5999\n' });
      expect(() => loadConfig(['--config', badLine], {})).toThrow(
        `config drop-in ${badLine}.d/50-port.conf line 2: "management_port 5999" is not a [section], a key = value or a comment`,
      );
      const noSection = withDropIns('', { '50-port.conf': '# the port\nmanagement_port = 5999\n' });
      expect(() => loadConfig(['--config', noSection], {})).toThrow(
        `config drop-in ${noSection}.d/50-port.conf line 2: "management_port = 5999" is outside any [section]`,
      );
      const unreadable = withDropIns('', {});
      mkdirSync(`${unreadable}.d/50-port.conf`);
      expect(() => loadConfig(['--config', unreadable], {})).toThrow(
        `cannot read config drop-in ${unreadable}.d/50-port.conf: EISDIR`,
      );
    });

    it('a value from vdsm.conf itself that is bad names vdsm.conf', () => {
      const file = withDropIns('[vars]\nssl = maybe\n', {});
      expect(() => loadConfig(['--config', file], {})).toThrow(
        `ssl must be true or false, not "maybe" ([vars] ssl in ${file})`,
      );
    });
  });

  it('vdsmd --help documents every setting; a bad flag exits 2', async () => {
    const { stdout } = await runChecked(process.execPath, [VDSMD, '--help'], { env: process.env });
    for (const key of [
      'management_port',
      'management_ip',
      '[vars] ssl',
      'ssl_key',
      'ssl_cert',
      'ssl_ca',
      'VDSM_PORT',
      '--port',
    ])
      expect(stdout).toContain(key);
    for (const s of Object.values(SETTINGS)) {
      const line = stdout.split('\n').find((l) => l.trimStart().startsWith(`--${s.flag} `));
      expect(line, s.flag).toMatch(new RegExp(`^  --${s.flag} \\S+ +${s.env} +\\[${s.ini[0]}\\] ${s.ini[1]}$`));
    }
    expect(stdout).toContain('FILE.d/*.conf');
    const bad = await runCommand(process.execPath, [VDSMD, '--port', 'abc'], { env: process.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/port must be a number/);
  });

  it('vdsmd with ssl on and unreadable key files fails to start with a clear message', async () => {
    const bad = await runCommand(
      process.execPath,
      [VDSMD, '--config', '/dev/null', '--port', '0', '--ssl-key', join(dir, 'nokey.pem')],
      { env: process.env },
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ssl is on but the key \(ssl_key\) .*nokey.pem cannot be read/);
  });

  it('without a config file, the start-up warning names the mode actually served', async () => {
    // Only without /etc/vdsm/vdsm.conf does vdsmd run on its embedded defaults: fail, not skip, where it exists.
    expect(existsSync(DEFAULT_CONFIG_FILE), `${DEFAULT_CONFIG_FILE} exists on this machine`).toBe(false);
    const warning = async (options: Parameters<typeof startVdsmdProcess>[0]) => {
      const vdsmd = await startVdsmdProcess({ ...options, env: { VDSM_CONFIG: undefined } });
      try {
        return vdsmd
          .output()
          .split('\n')
          .filter((l) => l.includes('"level":40') && l.includes('no config file'));
      } finally {
        await vdsmd.stop();
      }
    };
    const pki = makePki();
    try {
      const tls = await warning({ pki });
      expect(tls).toHaveLength(1);
      expect(tls[0]).toContain('(TLS with client certificates, loopback only)');
      expect(tls[0]).not.toContain('plaintext');
    } finally {
      pki.cleanup();
    }
    const plain = await warning({});
    expect(plain).toHaveLength(1);
    expect(plain[0]).toContain('(plaintext, loopback only)');
  });
});
