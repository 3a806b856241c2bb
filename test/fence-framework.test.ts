import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import agent from '../plugins/fence_ipmilan/index.js';
import { ParseError, parseArgv, parseStdin } from '../src/plugins/fence/parse.js';
import { buildTable } from '../src/plugins/fence/table.js';
import { resolveOptions } from '../src/plugins/fence/validate.js';
import { lines, ourAgent, runFence } from './support/fence-run.js';
import { ROOT } from './support/paths.js';

const table = buildTable(agent);
const dir = mkdtempSync(join(tmpdir(), 'fence-fw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('command-line parsing (GNU getopt rules)', () => {
  it('takes bundled short options, attached values, long=value, long value, and unique prefixes', () => {
    const { values } = parseArgv(
      ['-vv', '-ooff', '-a', 'bmc', '--ipport=624', '--power-wait', '3', '--lanp', '--cipher=3'],
      table,
    );
    expect(values).toMatchObject({
      verbose: 2,
      action: 'off',
      ipaddr: 'bmc',
      ipport: '624',
      power_wait: '3',
      lanplus: true,
      cipher: '3',
    });
  });

  it('warns about operands but keeps going, and stops at --', () => {
    expect(parseArgv(['stray', '-o', 'status', '--', '-x'], table).warnings).toEqual([
      'Unused arguments on command line',
    ]);
  });

  it.each([
    [['--frobnicate'], /option --frobnicate not recognized/],
    [['-Z'], /option -Z not recognized/],
    [['--ip'], /requires argument/],
    [['--lanplus=1'], /must not have an argument/],
    [['--p'], /not recognized/], // ambiguous prefix: password, password-script, port-as-ip, plug, ...
  ])('rejects %j', (args, message) => {
    expect(() => parseArgv(args, table)).toThrow(ParseError);
    expect(() => parseArgv(args, table)).toThrow(message);
  });
});

describe('stdin parsing', () => {
  it('accepts old and new names, - or _, quotes, comments; the last occurrence wins', () => {
    const { values, warnings } = parseStdin(
      '# c\n\nipaddr=a\nip=b\nusername="u"\npower-wait=4\npassword_script=/x\naction=on\naction=off\nnodename=n1\nagent=fence_ipmilan\n',
      table,
    );
    expect(values).toMatchObject({ ipaddr: 'b', login: 'u', power_wait: '4', passwd_script: '/x', action: 'off' });
    expect(warnings).toEqual([]);
  });

  it('treats boolean =0 as false (ClusterLabs treats it as true) and reports bad booleans', () => {
    expect(parseStdin('lanplus=0\nquiet=yes\n', table).values).toMatchObject({ lanplus: false, quiet: true });
    expect(parseStdin('lanplus=maybe\n', table).warnings[0]).toMatch(/not a boolean/);
  });

  it('reports unknown keys without their values, and a garbage line without crashing', () => {
    const { warnings } = parseStdin('secret_token=hunter2\n\u0000\u0001garbage without equals\n', table);
    expect(warnings.join('\n')).toMatch(/Ignoring unknown option 'secret_token'/);
    expect(warnings.join('\n')).not.toContain('hunter2');
  });
});

describe('validation messages (ClusterLabs wording)', () => {
  const check = (text: string) => resolveOptions(parseStdin(text, table).values, table, agent, {}).errors;
  it.each([
    ['action=status\n', 'You have to enter fence address'],
    ['ipaddr=a\naction=explode\n', "Unrecognised action 'explode'"],
    [
      'ipaddr=a\nmethod=sideways\n',
      "You have to enter a valid choice for --method from the valid values: ['onoff', 'cycle']",
    ],
    ['ipaddr=a\npower_timeout=soon\n', 'The value you have entered for --power-timeout is not a valid time in seconds'],
    ['ipaddr=a\nipport=http\n', 'The value you have entered for --ipport is not a valid integer'],
  ])('%j → %s', (text, message) => {
    expect(check(text)).toContain(message);
  });

  it('--port-as-ip takes the address from the plug', () => {
    expect(check('port=10.0.0.9\nport_as_ip=1\naction=status\n')).toEqual([]);
  });

  it('Pacemaker (PCMK_service) disables our timeouts unless told otherwise', () => {
    const { options } = resolveOptions(parseStdin('ipaddr=a\n', table).values, table, agent, {
      PCMK_service: 'pacemaker-fenced',
    });
    expect(options).toMatchObject({ power_timeout: '0', shell_timeout: '0', login_timeout: '0' });
  });
});

describe('the standalone agent on bad input', () => {
  it.each([
    ['an unknown option', ['--bogus'], /Parse error: option --bogus not recognized/],
    ['a missing address', ['-o', 'status'], /Failed: You have to enter fence address/],
    ['a bad port value', ['-a', 'x', '-u', 'nine', '-o', 'status'], /--ipport is not a valid integer/],
    ['a bad action', ['-a', 'x', '-o', 'explode'], /Unrecognised action 'explode'/],
  ])('%s: clear message, exit 1, nothing run', async (_what, args, message) => {
    const r = await runFence(ourAgent('fence_ipmilan'), [...args, '--ipmitool-path', join(dir, 'must-not-run')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  it('garbage on stdin: reported, and the defaults (reboot!) are not run without an address', async () => {
    const r = await runFence(ourAgent('fence_ipmilan'), [], '\u0007\u0000 =\n===\nnot a pair\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/You have to enter fence address/);
  });

  it('validate-all reports every problem and never contacts the device', async () => {
    const r = await runFence(ourAgent('fence_ipmilan'), [], 'action=validate-all\nmethod=x\npower_wait=y\n');
    expect(r.code).toBe(1);
    for (const problem of [
      /fence address/,
      /valid choice for --method/,
      /--power-wait is not a valid time/,
      /validate-all failed/,
    ])
      expect(r.stderr).toMatch(problem);
    expect((await runFence(ourAgent('fence_ipmilan'), [], 'action=validate-all\nipaddr=192.0.2.1\n')).code).toBe(0);
  });

  it('runs --password-script without a shell: it runs, with its words as arguments, shell syntax literal', async () => {
    // the script records the arguments it got, one per line (ipmi-sim-backed success and failure: fence-ipmilan.test.ts)
    const script = join(dir, 'pw.sh');
    const got = join(dir, 'pw-args');
    writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$@" > ${got}\nprintf '%s' "$1"\n`, { mode: 0o755 });
    const marker = join(dir, 'pwned');
    const r = await runFence(ourAgent('fence_ipmilan'), [
      '-a',
      '127.0.0.1',
      '-u',
      '9',
      '--power-timeout',
      '1',
      '-S',
      `${script} x;touch ${marker} $HOME`,
      '-o',
      'status',
    ]);
    expect(r.code).toBe(1);
    expect(readFileSync(got, 'utf8')).toBe(`x;touch\n${marker}\n$HOME\n`);
    expect(() => execFileSync('test', ['-e', marker])).toThrow();
  });

  // 13 agents started one after another, each with xmllint: slow on a loaded machine, so a longer bound
  it(
    "metadata validates against fence-agents' RelaxNG schema, for every agent and alias we ship",
    { timeout: 120_000 },
    async () => {
      const names = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin).filter((n) =>
        n.startsWith('fence_'),
      );
      expect(names.length).toBeGreaterThanOrEqual(13);
      for (const name of names) {
        const file = join(dir, `${name}.xml`);
        const r = await runFence(ourAgent(name), ['-o', 'metadata']);
        writeFileSync(file, r.stdout);
        expect(() =>
          execFileSync('xmllint', ['--noout', '--relaxng', '/usr/share/cluster/relaxng/metadata.rng', file], {
            stdio: 'pipe',
          }),
        ).not.toThrow();
      }
    },
  );

  it('help lists the options and exits 0', async () => {
    const r = await runFence(ourAgent('fence_ipmilan'), ['-h']);
    expect(r.code).toBe(0);
    expect(lines(r).join('\n')).toMatch(/--lanplus[\s\S]*--power-wait=\[seconds\]/);
  });
});
