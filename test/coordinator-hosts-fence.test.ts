import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostLinks } from '../src/coordinator/hosts/links.js';
import { fenceAgentRecord } from '../src/coordinator/inventory/records.js';
import { SecretFiles } from '../src/coordinator/secrets.js';
import { type IpmiSim, startIpmiSim } from './fixtures/ipmi-sim.js';
import { makePki, type Pki, startVdsmdProcess, type VdsmdProcess } from './support/vdsmd-process.js';

/** Hard fencing through a real vdsmd proxy (mutual TLS) to an ipmi_sim BMC, the password from a secrets file. */
const PASSWORD = 'ipmi-Secret-42';
let pki: Pki;
let proxy: VdsmdProcess;
let bmc: IpmiSim;
let secretsDir: string;
let links: HostLinks;
/** Every line the coordinator logged, without pino redaction, so that nothing hides a password that was logged. */
const logged: string[] = [];
const lines = () =>
  logged
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const signal = new AbortController().signal;

const agent = (passwordRef = 'bmc-target') =>
  fenceAgentRecord.parse({
    name: 'ipmi1',
    type: 'ipmilan',
    address: '127.0.0.1',
    username: 'admin',
    passwordRef,
    options: { ipport: String(bmc.port), lanplus: '1', cipher: '3', power_wait: '0' },
  });

beforeAll(async () => {
  pki = makePki();
  bmc = await startIpmiSim({ user: 'admin', password: PASSWORD, power: 'on' });
  proxy = await startVdsmdProcess({ pki });
  secretsDir = mkdtempSync(join(tmpdir(), 'coord-secrets-'));
  writeFileSync(join(secretsDir, 'bmc-target'), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(secretsDir, 'bmc-loose'), `${PASSWORD}\n`);
  chmodSync(join(secretsDir, 'bmc-loose'), 0o644);
  links = new HostLinks({
    tls: {
      key: readFileSync(pki.file('engine-key.pem')),
      cert: readFileSync(pki.file('engine.pem')),
      ca: readFileSync(pki.file('ca.pem')),
    },
    secrets: new SecretFiles(secretsDir),
    log: pino({ level: 'debug' }, { write: (l: string) => void logged.push(l) }),
  });
  links.setHost('proxy', { address: '127.0.0.1', port: proxy.port });
});

afterAll(async () => {
  links?.close();
  await proxy?.stop();
  await bmc?.stop();
  pki?.cleanup();
  if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
});

describe('fence through a proxy host', () => {
  it('status on, off (initiated: unknown until a status confirms), then status off', async () => {
    expect(await links.fence('proxy', 'target', agent(), 'status', signal)).toBe('on');
    expect(await links.fence('proxy', 'target', agent(), 'off', signal)).toBe('unknown');
    expect(bmc.power()).toBe('off');
    expect(await links.fence('proxy', 'target', agent(), 'status', signal)).toBe('off');
    expect(bmc.transitions()).toEqual(['power 0']);
    expect(await links.fence('proxy', 'target', agent(), 'on', signal)).toBe('unknown');
    expect(bmc.power()).toBe('on');
  });

  it("the target's storage host ids go along as the fencing policy: the proxy weighs them before an off, not a status", async () => {
    const ids = { '3b0c1a52-9f0e-4a8f-9d2b-1c2d3e4f5a6b': 2 };
    const policyLines = () =>
      proxy
        .output()
        .split('\n')
        .filter((l) => l.includes('fencing policy'));
    const before = policyLines().length;
    expect(await links.fence('proxy', 'target', agent(), 'status', signal, ids)).toBe('on');
    expect(policyLines()).toHaveLength(before); // vdsm's rule: the policy never applies to status
    // A lockspace this proxy's sanlock has not joined: the lease is not seen live, so the off goes ahead (as vdsm).
    expect(await links.fence('proxy', 'target', agent(), 'off', signal, ids)).toBe('unknown');
    await proxy.waitForOutput(/fencing policy/, 5000);
    expect(policyLines().length).toBeGreaterThan(before);
    expect(await links.fence('proxy', 'target', agent(), 'on', signal)).toBe('unknown');
  });

  it('a password file readable by others is refused: error, and the BMC sees no power action', async () => {
    const before = bmc.transitions().length;
    expect(await links.fence('proxy', 'target', agent('bmc-loose'), 'off', signal)).toBe('error');
    expect(bmc.power()).toBe('on');
    expect(bmc.transitions()).toHaveLength(before);
    const line = lines().find((l) => l.msg === 'fence call failed' && String(l.err).includes('bmc-loose'));
    expect(line?.err).toMatch(/mode 0644/);
  });

  it('a proxy that does not answer is an error', async () => {
    links.setHost('dead-proxy', { address: '127.0.0.1', port: 1 });
    expect(await links.fence('dead-proxy', 'target', agent(), 'status', signal)).toBe('error');
  });

  it('the password is in no log line of the coordinator nor of the proxy', async () => {
    // A wrong-password attempt too: the agent's failure text travels back in the error.
    writeFileSync(join(secretsDir, 'bmc-wrong'), 'not-the-Password-1\n', { mode: 0o600 });
    expect(await links.fence('proxy', 'target', agent('bmc-wrong'), 'status', signal)).toBe('error');
    expect(lines().length).toBeGreaterThan(3);
    expect(logged.join('')).not.toContain(PASSWORD);
    expect(logged.join('')).not.toContain('not-the-Password-1');
    expect(proxy.output()).toContain('Host.fenceNode');
    expect(proxy.output()).not.toContain(PASSWORD);
  });
});
