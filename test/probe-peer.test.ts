import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VdsmClient } from '../src/rpc/client.js';
import { closedPort } from './support/ports.js';
import { makePki, type Pki, startVdsmdProcess, type VdsmdProcess } from './support/vdsmd-process.js';
import { settledWithin } from './support/wait.js';

/** Host.probePeer: the witness (a real vdsmd) asked by an engine-like client whether it reaches a peer's vdsmd. */
let pki: Pki;
let otherPki: Pki;
let witness: VdsmdProcess;
let peer: VdsmdProcess;
let stranger: VdsmdProcess;
let plainPeer: VdsmdProcess;
let plainWitness: VdsmdProcess;
let engine: VdsmClient;
let plainEngine: VdsmClient;

const tlsOf = (p: Pki, name: string) => ({
  key: readFileSync(p.file(`${name}-key.pem`)),
  cert: readFileSync(p.file(`${name}.pem`)),
  ca: readFileSync(p.file('ca.pem')),
});

beforeAll(async () => {
  pki = makePki();
  otherPki = makePki();
  [witness, peer, stranger, plainPeer, plainWitness] = await Promise.all([
    startVdsmdProcess({ pki }),
    startVdsmdProcess({ pki }),
    startVdsmdProcess({ pki: otherPki }),
    startVdsmdProcess(),
    startVdsmdProcess(),
  ]);
  engine = await VdsmClient.connect({ host: '127.0.0.1', port: witness.port, tls: tlsOf(pki, 'engine') });
  plainEngine = await VdsmClient.connect({ host: '127.0.0.1', port: plainWitness.port });
});

afterAll(async () => {
  await engine?.destroy();
  await plainEngine?.destroy();
  for (const p of [witness, peer, stranger, plainPeer, plainWitness]) {
    if (p?.alive()) process.kill(p.pid, 'SIGCONT');
    await p?.stop();
  }
  pki?.cleanup();
  otherPki?.cleanup();
});

type Probe = { reached: boolean; detail: string };
const probe = (port: number, timeoutMs?: number, via = engine) =>
  via.call(
    'Host.probePeer',
    { address: '127.0.0.1', port, ...(timeoutMs ? { timeoutMs } : {}) },
    { timeoutMs: 40_000 },
  ) as Promise<Probe>;

describe('Host.probePeer between TLS hosts', () => {
  it('reaches a live peer of the same CA with its own host certificate', async () => {
    expect(await probe(peer.port)).toEqual({ reached: true, detail: 'Host.ping2 answered true' });
  });

  it('does not count a peer whose certificate another CA signed', async () => {
    const r = await probe(stranger.port);
    expect(r.reached).toBe(false);
    expect(r.detail).toMatch(/certificate|self.signed|unable to verify/i);
  });

  it('does not count a peer that speaks plaintext', async () => {
    expect((await probe(plainPeer.port)).reached).toBe(false);
  });

  it('a frozen peer (SIGSTOP: the kernel still accepts TCP) is not reached, and the answer comes within the bound', async () => {
    process.kill(peer.pid, 'SIGSTOP');
    try {
      const pending = probe(peer.port, 1500);
      // 1500 ms is the probe's own bound; the answer must be there well before 1500 + 3500.
      expect(await settledWithin(pending, 5000)).toBe(true);
      const r = await pending;
      expect(r.reached).toBe(false);
      expect(r.detail).toMatch(/within 1500 ms/);
    } finally {
      process.kill(peer.pid, 'SIGCONT');
    }
    expect((await probe(peer.port)).reached).toBe(true);
  });

  it('a port nobody listens on is not reached: connection refused', async () => {
    const r = await probe(await closedPort());
    expect(r.reached).toBe(false);
    expect(r.detail).toMatch(/ECONNREFUSED/);
  });

  it('a peer that was killed is not reached', async () => {
    const victim = await startVdsmdProcess({ pki });
    try {
      expect((await probe(victim.port)).reached).toBe(true);
      process.kill(victim.pid, 'SIGKILL');
      await victim.stop();
      const r = await probe(victim.port);
      expect(r.reached).toBe(false);
      expect(r.detail).toMatch(/ECONNREFUSED/);
    } finally {
      await victim.stop();
    }
  });
});

describe('Host.probePeer between plaintext hosts', () => {
  it('reaches a plaintext peer without certificates', async () => {
    expect((await probe(plainPeer.port, undefined, plainEngine)).reached).toBe(true);
  });

  it('refuses a bound outside 100..30000 ms and an empty address with -32602', async () => {
    for (const params of [
      { address: '127.0.0.1', port: plainPeer.port, timeoutMs: 50 },
      { address: '127.0.0.1', port: plainPeer.port, timeoutMs: 30_001 },
      { address: '', port: plainPeer.port },
      { address: '127.0.0.1', port: 70_000 },
    ])
      await expect(plainEngine.call('Host.probePeer', params), JSON.stringify(params)).rejects.toMatchObject({
        code: -32602,
      });
  });
});
