/**
 * Proof that test/fixtures/ilo2-sim.ts is a faithful iLO2: ClusterLabs' own fence_ilo2 (Debian
 * package fence-agents, which talks RIBCL through `gnutls-cli --crlf` under a pty) drives it
 * through status / on / off / reboot, on the command line and on stdin, and fails the way docs/fence.md
 * ("What ClusterLabs' agents print and return", iLO / iLO2) says when the password is wrong or nobody listens.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startIlo2Sim, type Ilo2Sim, type Ilo2SimOptions } from './fixtures/ilo2-sim.js';
import { clusterLabsEnv, type FenceResult, PATIENT, runFence } from './support/fence-exec.js';
import { makePki, type Pki } from './support/pki.js';
import { closedPort } from './support/ports.js';

const AGENT = '/usr/sbin/fence_ilo2';
const USER = 'Administrator';
const PASSWORD = 'secret';
const RUN_TIMEOUT_MS = 25_000;

let pki: Pki | undefined;
let key: Buffer;
let cert: Buffer;
const sims: Ilo2Sim[] = [];
const timings: string[] = [];

beforeAll(() => {
  pki = makePki();
  key = readFileSync(pki.file('vdsm-key.pem'));
  cert = readFileSync(pki.file('vdsm.pem'));
});

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

afterAll(() => {
  pki?.cleanup();
  console.log(`fence_ilo2 run times:\n${timings.join('\n')}`);
});

async function sim(options: Partial<Ilo2SimOptions> = {}): Promise<Ilo2Sim> {
  const s = await startIlo2Sim({ key, cert, user: USER, password: PASSWORD, ...options });
  sims.push(s);
  return s;
}

/** Runs the real agent (argv form, or stdin form when `stdin` is given and args is empty). */
async function agent(label: string, args: string[], stdin?: string): Promise<FenceResult> {
  const env = clusterLabsEnv();
  delete env.PCMK_service; // would switch on disable_timeout
  const r = await runFence(AGENT, args, stdin, RUN_TIMEOUT_MS, env);
  timings.push(`  ${label}: ${r.ms.toFixed(0)} ms (exit ${r.code})`);
  return r;
}

function argv(port: number, ...extra: string[]): string[] {
  return argvWith(PASSWORD, port, ...extra);
}

function argvWith(password: string, port: number, ...extra: string[]): string[] {
  return [
    '--ip',
    '127.0.0.1',
    '--ipport',
    String(port),
    '-l',
    USER,
    '-p',
    password,
    '--ssl-insecure',
    ...PATIENT,
    ...extra,
  ];
}

describe('real fence_ilo2 against the iLO2 simulator', () => {
  it('status of a host that is on: "Status: ON", exit 0', async () => {
    const s = await sim({ power: 'on' });
    const r = await agent('status (on)', argv(s.port, '-o', 'status'));
    expect(r.stdout, r.stderr).toBe('Status: ON\n');
    expect(r.code).toBe(0);
    expect(s.requests).toEqual(['GET_FW_VERSION', 'GET_HOST_POWER_STATUS']);
  });

  it('status of a host that is off: "Status: OFF", exit 2', async () => {
    const s = await sim({ power: 'off' });
    const r = await agent('status (off)', argv(s.port, '-o', 'status'));
    expect(r.stdout, r.stderr).toBe('Status: OFF\n');
    expect(r.code).toBe(2);
  });

  it('off: "Success: Powered OFF", exit 0, host off (iLO2 fw 1.50 uses HOLD_PWR_BTN TOGGLE)', async () => {
    const s = await sim({ power: 'on' });
    const r = await agent('off', argv(s.port, '-o', 'off'));
    expect(r.stdout, r.stderr).toBe('Success: Powered OFF\n');
    expect(r.code).toBe(0);
    expect(s.power).toBe('off');
    expect(s.requests).toEqual([
      'GET_FW_VERSION',
      'GET_HOST_POWER_STATUS',
      'HOLD_PWR_BTN TOGGLE',
      'GET_HOST_POWER_STATUS',
    ]);
  });

  it('on: "Success: Powered ON", exit 0, host on', async () => {
    const s = await sim({ power: 'off' });
    const r = await agent('on', argv(s.port, '-o', 'on'));
    expect(r.stdout, r.stderr).toBe('Success: Powered ON\n');
    expect(r.code).toBe(0);
    expect(s.power).toBe('on');
    expect(s.requests.filter((q) => q.startsWith('HOLD_PWR_BTN'))).toEqual(['HOLD_PWR_BTN TOGGLE']);
  });

  it('off when already off: "Success: Already OFF" and no button press', async () => {
    const s = await sim({ power: 'off' });
    const r = await agent('off (already off)', argv(s.port, '-o', 'off'));
    expect(r.stdout, r.stderr).toBe('Success: Already OFF\n');
    expect(r.code).toBe(0);
    expect(s.requests).toEqual(['GET_FW_VERSION', 'GET_HOST_POWER_STATUS']);
  });

  it('reboot: "Success: Rebooted", exit 0, host on again after an off and an on', async () => {
    const s = await sim({ power: 'on' });
    const r = await agent('reboot', argv(s.port, '-o', 'reboot'));
    expect(r.stdout, r.stderr).toBe('Success: Rebooted\n');
    expect(r.code).toBe(0);
    expect(s.power).toBe('on');
    expect(s.requests.filter((q) => q.startsWith('HOLD_PWR_BTN'))).toHaveLength(2);
  });

  it('polls until a slow power change lands (power takes 300 ms)', async () => {
    const s = await sim({ power: 'on', powerDelayMs: 300 });
    const r = await agent('off (300 ms device delay, polled)', argv(s.port, '-o', 'off', '--power-wait', '0'));
    expect(r.stdout, r.stderr).toBe('Success: Powered OFF\n');
    expect(r.code).toBe(0);
    expect(s.power).toBe('off');
    // one status before, then at least two polls: the first still sees ON
    expect(s.requests.filter((q) => q === 'GET_HOST_POWER_STATUS').length).toBeGreaterThanOrEqual(3);
  });

  it('stdin form (no argv, key=value lines) works', async () => {
    const s = await sim({ power: 'on' });
    const input = [
      '# as pacemaker-fenced would send it',
      'ipaddr=127.0.0.1',
      `ipport=${s.port}`,
      `login=${USER}`,
      `passwd=${PASSWORD}`,
      'ssl_insecure=1',
      'action=off',
      '',
    ].join('\n');
    const r = await agent('stdin off', [], input);
    expect(r.stdout, r.stderr).toBe('Success: Powered OFF\n');
    expect(r.code).toBe(0);
    expect(s.power).toBe('off');
  });

  it('a password with quotes, < and & arrives intact (entity-encoded, single- or double-quoted)', async () => {
    for (const password of [`pw"<&`, `p"w'<&>x`]) {
      const s = await sim({ power: 'on', password });
      const r = await agent(
        `status (password ${JSON.stringify(password)})`,
        argvWith(password, s.port, '-o', 'status'),
      );
      expect(r.stdout, r.stderr).toBe('Status: ON\n');
      expect(r.code).toBe(0);
      expect(s.rejectedLogins).toBe(0);
    }
  });

  it('wrong password: exit 1, "Unable to connect/login to fencing device" on stderr', async () => {
    const s = await sim({ power: 'on' });
    const r = await agent('status, wrong password', argvWith('wrong', s.port, '-o', 'status', '--shell-timeout', '1'));
    expect(r.code).toBe(1);
    expect(r.stdout, r.stderr).toBe('');
    expect(r.stderr).toMatch(/ERROR: Unable to connect\/login to fencing device/);
    expect(s.rejectedLogins).toBeGreaterThanOrEqual(1);
    expect(s.requests).not.toContain('GET_FW_VERSION');
    expect(s.power).toBe('on');
  });

  it('wrong password on a device that hangs up after rejecting: exit 1 at once, same message', async () => {
    const s = await sim({ power: 'on', closeOnLoginFailure: true });
    const r = await agent('status, wrong password, device hangs up', argvWith('wrong', s.port, '-o', 'status'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERROR: Unable to connect\/login to fencing device/);
    expect(s.rejectedLogins).toBe(1);
  });

  it('nobody listening: exit 1, "Unable to connect/login to fencing device"', async () => {
    const port = await closedPort();
    const r = await agent('status, closed port', argv(port, '-o', 'status'));
    expect(r.code).toBe(1);
    expect(r.stdout, r.stderr).toBe('');
    expect(r.stderr).toMatch(/ERROR: Unable to connect\/login to fencing device/);
  });

  it('without --ssl-insecure the self-signed device is refused (certificate verification on by default)', async () => {
    const s = await sim({ power: 'on' });
    const r = await agent(
      'status, no --ssl-insecure',
      argv(s.port, '-o', 'status').filter((a) => a !== '--ssl-insecure'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Unable to connect\/login to fencing device/);
    expect(s.requests).toEqual([]);
  });

  it('RIBCL 1.x, wrong password: the rejection comes in the status reply, so the agent times out (exit 1)', async () => {
    const s = await sim({ power: 'on', ribclVersion: '1.30', processor: 'iLO' });
    const r = await agent(
      'RIBCL 1.30 status, wrong password',
      argvWith('wrong', s.port, '-o', 'status', '--power-timeout', '1'),
    );
    expect(r.code).toBe(1);
    expect(r.stdout, r.stderr).toBe('');
    expect(r.stderr).toMatch(/ERROR: Connection timed out/);
    expect(s.rejectedLogins).toBe(2); // the version-probe LOGIN and the status LOGIN
  });

  it('an iLO reporting RIBCL 1.x: no GET_FW_VERSION, power set with SET_HOST_POWER', async () => {
    const s = await sim({ power: 'on', ribclVersion: '1.30', processor: 'iLO', firmwareVersion: '1.91' });
    const off = await agent('RIBCL 1.30 off', argv(s.port, '-o', 'off'));
    expect(off.stdout).toBe('Success: Powered OFF\n');
    expect(off.code).toBe(0);
    const on = await agent('RIBCL 1.30 on', argv(s.port, '-o', 'on'));
    expect(on.stdout).toBe('Success: Powered ON\n');
    expect(on.code).toBe(0);
    expect(s.requests).not.toContain('GET_FW_VERSION');
    expect(s.requests.filter((q) => q.startsWith('SET_HOST_POWER'))).toEqual([
      'SET_HOST_POWER OFF',
      'SET_HOST_POWER ON',
    ]);
  });

  it('an iLO (not iLO2) with RIBCL 2.22: HOLD_PWR_BTN for off, PRESS_PWR_BTN for on', async () => {
    const s = await sim({ power: 'on', processor: 'iLO', firmwareVersion: '1.91' });
    const r = await agent('iLO RIBCL 2.22 reboot', argv(s.port, '-o', 'reboot'));
    expect(r.stdout, r.stderr).toBe('Success: Rebooted\n');
    expect(r.code).toBe(0);
    expect(s.power).toBe('on');
    expect(s.requests.filter((q) => q.endsWith('_PWR_BTN'))).toEqual(['HOLD_PWR_BTN', 'PRESS_PWR_BTN']);
  });

  it('iLO2 firmware 1.22: a bare HOLD_PWR_BTN toggles, so "on" works too', async () => {
    const s = await sim({ power: 'off', firmwareVersion: '1.22' });
    const r = await agent('iLO2 fw 1.22 on', argv(s.port, '-o', 'on'));
    expect(r.stdout, r.stderr).toBe('Success: Powered ON\n');
    expect(r.code).toBe(0);
    expect(s.requests.filter((q) => q.startsWith('HOLD_PWR_BTN'))).toEqual(['HOLD_PWR_BTN']);
  });
});

describe('iLO2 simulator on the wire (own client)', () => {
  /** Sends `text` in small pieces, then collects everything until the device closes the session. */
  async function converse(port: number, text: string): Promise<string> {
    const sock = connect({ host: '127.0.0.1', port, ca: readFileSync(pki!.file('ca.pem')) });
    await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
    let got = '';
    sock.setEncoding('utf8').on('data', (d: string) => (got += d));
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    for (let i = 0; i < text.length; i += 7) sock.write(text.slice(i, i + 7)); // tags split across reads
    const timer = setTimeout(() => sock.destroy(), 5000);
    await closed;
    clearTimeout(timer);
    return got;
  }

  it('parses quoting variants, blank lines and split tags; one document per command; </RIBCL> ends the session', async () => {
    const s = await sim({ power: 'on', password: `a'b"c` });
    const script = [
      '<?xml version="1.0"?>',
      '',
      '<RIBCL VERSION="2.0">',
      '',
      `<LOGIN USER_LOGIN='Administrator' PASSWORD  =  "a'b&quot;c">`,
      '<SERVER_INFO MODE="write">',
      '<SET_HOST_POWER HOST_POWER="No"/>',
      '<GET_HOST_POWER_STATUS />',
      "<SET_HOST_POWER HOST_POWER = 'Yes'></SET_HOST_POWER>",
      '<NO_SUCH_COMMAND/>',
      '</SERVER_INFO>',
      '</LOGIN>',
      '<LOGIN USER_LOGIN="Administrator" PASSWORD="nope"><SERVER_INFO MODE="write"><HOLD_PWR_BTN/></SERVER_INFO></LOGIN>',
      '</RIBCL>',
      '',
    ].join('\r\n');
    const reply = await converse(s.port, script);
    const docs = reply.split('<?xml version="1.0"?>').slice(1);
    const statuses = docs.map((d) => /STATUS="(0x[0-9A-F]{4})"/.exec(d)?.[1]);
    expect(statuses).toEqual(['0x0000', '0x0000', '0x0000', '0x0000', '0x0001', '0x005F']);
    expect(docs.every((d) => d.includes('<RIBCL VERSION="2.22">') && d.trimEnd().endsWith('</RIBCL>'))).toBe(true);
    expect(docs[2]).toMatch(/<GET_HOST_POWER\s+HOST_POWER="OFF"/);
    expect(docs[5]).toContain("MESSAGE='Login credentials rejected.'");
    expect(s.requests).toEqual(['SET_HOST_POWER NO', 'GET_HOST_POWER_STATUS', 'SET_HOST_POWER YES', 'NO_SUCH_COMMAND']);
    expect(s.power).toBe('on');
    expect(s.rejectedLogins).toBe(1);
  });

  it('the test can set the power state between runs', async () => {
    const s = await sim({ power: 'on' });
    s.power = 'off';
    const reply = await converse(
      s.port,
      '<?xml version="1.0"?>\r\n<RIBCL VERSION="2.0">\r\n<LOGIN USER_LOGIN="Administrator" PASSWORD="secret">' +
        '<SERVER_INFO MODE="read"><GET_HOST_POWER_STATUS/></SERVER_INFO></LOGIN></RIBCL>\r\n',
    );
    expect(reply).toMatch(/HOST_POWER="OFF"/);
  });
});
