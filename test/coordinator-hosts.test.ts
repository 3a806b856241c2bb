import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PollFailure } from '../src/coordinator/core/env.js';
import { NOT_IN_RECOVERY } from '../src/coordinator/core/types.js';
import { hostEnv } from '../src/coordinator/hosts/env.js';
import { HostLinks } from '../src/coordinator/hosts/links.js';
import { hostRecord } from '../src/coordinator/inventory/records.js';
import { SoftFence } from '../src/coordinator/ssh/restart.js';
import { SecretFiles } from '../src/coordinator/secrets.js';
import { captureLog } from './support/capture-log.js';
import { makePki, type Pki, startVdsmdProcess, type VdsmdProcess } from './support/vdsmd-process.js';
import { engineDomainXml } from './support/vm-xml.js';
import { settledWithin, sleep, waitFor } from './support/wait.js';

/** HostLinks against real vdsmd processes on libvirt's test driver, over mutual TLS with the engine's certificate. */
let pki: Pki;
let host1: VdsmdProcess;
let links: HostLinks;
const vmEvents: { host: string; vmId: string; status: string }[] = [];
const term = new AbortController();
const signal = term.signal;

const engineTls = () => ({
  key: readFileSync(pki.file('engine-key.pem')),
  cert: readFileSync(pki.file('engine.pem')),
  ca: readFileSync(pki.file('ca.pem')),
});

const newLinks = (bounds: ConstructorParameters<typeof HostLinks>[0]['bounds'] = {}) =>
  new HostLinks({
    tls: engineTls(),
    secrets: new SecretFiles('/nonexistent'),
    log: captureLog().log,
    bounds: { pingMs: 2000, shutdownMs: 10_000, stopPollMs: 500, ...bounds },
    onVmStatus: (host, vmId, status) => vmEvents.push({ host, vmId, status }),
  });

/** The PollFailure reason a poll rejects with (fails the test when it resolves or rejects with something else). */
async function failure(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PollFailure);
  return (err as PollFailure).reason;
}

beforeAll(async () => {
  pki = makePki();
  host1 = await startVdsmdProcess({ pki });
  links = newLinks();
  links.setHost('host1', { address: '127.0.0.1', port: host1.port });
});

afterAll(async () => {
  links?.close();
  await host1?.stop();
  pki?.cleanup();
});

describe('polls', () => {
  it('ping answers over mutual TLS with the engine certificate', async () => {
    await expect(links.ping('host1', signal)).resolves.toBeUndefined();
  });

  it('stats reports free memory, the VMs and the HA block', async () => {
    const s = await links.stats('host1', signal);
    expect(s.freeMemMiB).toBeGreaterThan(0);
    expect(Array.isArray(s.vms)).toBe(true);
    expect(s.ha).toEqual({
      configured: false,
      active: false,
      score: 0,
      localMaintenance: false,
      globalMaintenance: false,
    });
  });

  it('a client certificate of another CA gets no answer: the poll fails', async () => {
    const other = makePki();
    const strangers = new HostLinks({
      tls: {
        key: readFileSync(other.file('stranger-key.pem')),
        cert: readFileSync(other.file('stranger.pem')),
        ca: readFileSync(pki.file('ca.pem')),
      },
      secrets: new SecretFiles('/nonexistent'),
      log: captureLog().log,
    });
    try {
      strangers.setHost('host1', { address: '127.0.0.1', port: host1.port });
      expect(await failure(strangers.ping('host1', signal))).toBe('timeout');
    } finally {
      strangers.close();
      other.cleanup();
    }
  });
});

describe('a host that fails', () => {
  it('a stopped vdsmd is refused, and the link comes back when it listens again on its port', async () => {
    const h = await startVdsmdProcess({ pki });
    const l = newLinks();
    try {
      l.setHost('h', { address: '127.0.0.1', port: h.port });
      await l.ping('h', signal);
      await h.stop();
      expect(await failure(l.ping('h', signal))).toBe('refused');
      expect(await failure(l.stats('h', signal))).toBe('refused');
      const again = await startVdsmdProcess({ pki, args: ['--port', String(h.port)] });
      try {
        expect(again.port).toBe(h.port);
        await expect(l.ping('h', signal)).resolves.toBeUndefined();
        expect((await l.stats('h', signal)).freeMemMiB).toBeGreaterThan(0);
      } finally {
        await again.stop();
      }
    } finally {
      l.close();
      await h.stop();
    }
  });

  it('a frozen vdsmd (SIGSTOP) is a timeout within the ping bound, on a live link and on a new one', async () => {
    const h = await startVdsmdProcess({ pki });
    const l = newLinks({ pingMs: 1000 });
    try {
      l.setHost('h', { address: '127.0.0.1', port: h.port });
      await l.ping('h', signal);
      process.kill(h.pid, 'SIGSTOP');
      for (let i = 0; i < 2; i++) {
        const pending = l.ping('h', signal);
        expect(await settledWithin(pending, 4000)).toBe(true);
        expect(await failure(pending)).toBe('timeout');
      }
      process.kill(h.pid, 'SIGCONT');
      await waitFor(
        'the link to answer again',
        () =>
          l.ping('h', signal).then(
            () => true,
            () => false,
          ),
        10_000,
      );
    } finally {
      process.kill(h.pid, 'SIGCONT');
      l.close();
      await h.stop();
    }
  });

  it('the leader term ending ends a pending call at once, with the term’s reason', async () => {
    const h = await startVdsmdProcess({ pki });
    const l = newLinks({ statsMs: 60_000, pingMs: 60_000 });
    try {
      l.setHost('h', { address: '127.0.0.1', port: h.port });
      await l.ping('h', signal);
      process.kill(h.pid, 'SIGSTOP');
      const t = new AbortController();
      const onLink = l.stats('h', t.signal);
      const fresh = newLinks({ pingMs: 60_000 });
      fresh.setHost('h', { address: '127.0.0.1', port: h.port });
      const connecting = fresh.ping('h', t.signal);
      // Time for the request to be on the wire and the new connection to be stuck in its TLS handshake.
      await sleep(300);
      t.abort(new Error('not leader any more'));
      for (const p of [onLink, connecting]) {
        expect(await settledWithin(p, 500)).toBe(true);
        await expect(p).rejects.toThrow('not leader any more');
      }
      fresh.close();
      await expect(l.ping('h', t.signal)).rejects.toThrow('not leader any more');
    } finally {
      process.kill(h.pid, 'SIGCONT');
      l.close();
      await h.stop();
    }
  });
});

describe('VMs', () => {
  it('createVm, listVms, stopVm: the VM starts, VM_status events arrive, then it is gone', async () => {
    const vm = engineDomainXml();
    const running = (status: string) => status === 'Powering up' || status === 'Up';
    expect(await links.createVm('host1', { id: vm.uuid, xml: vm.xml }, signal)).toMatchObject({ ok: true });
    await waitFor(
      'the VM to be listed running',
      async () => (await links.listVms('host1', signal))?.some((v) => v.id === vm.uuid && running(v.status)),
      10_000,
    );
    await waitFor(
      'a VM_status event of the start',
      () => vmEvents.some((e) => e.host === 'host1' && e.vmId === vm.uuid && running(e.status)),
      5000,
    );
    const shutdowns = () => (host1.output().match(/"method":"VM\.shutdown"[^\n]*"code":0/g) ?? []).length;
    const before = shutdowns();
    expect(await links.stopVm('host1', vm.uuid, signal)).toBe(true);
    expect((await links.listVms('host1', signal))?.some((v) => v.id === vm.uuid)).toBe(false);
    expect(vmEvents.some((e) => e.vmId === vm.uuid && e.status === 'Down')).toBe(true);
    // The guest was asked first (a clean shutdown), not only destroyed.
    await host1.waitForOutput(/"method":"VM\.destroy"/);
    expect(shutdowns()).toBe(before + 1);
  });

  it('stopVm of a VM without ACPI (the guest cannot be asked) destroys it', async () => {
    const vm = engineDomainXml({ acpi: false });
    expect((await links.createVm('host1', { id: vm.uuid, xml: vm.xml }, signal)).ok).toBe(true);
    expect(await links.stopVm('host1', vm.uuid, signal)).toBe(true);
    expect((await links.listVms('host1', signal))?.some((v) => v.id === vm.uuid)).toBe(false);
  });

  it('destroyVm takes a running VM off the host; an unknown VM counts as destroyed', async () => {
    const vm = engineDomainXml();
    expect((await links.createVm('host1', { id: vm.uuid, xml: vm.xml }, signal)).ok).toBe(true);
    expect(await links.destroyVm('host1', vm.uuid, signal)).toBe(true);
    expect((await links.listVms('host1', signal))?.some((v) => v.id === vm.uuid)).toBe(false);
    expect(await links.destroyVm('host1', vm.uuid, signal)).toBe(true);
  });

  it('createVm of a VM the host already runs is not ok and says so', async () => {
    const vm = engineDomainXml();
    expect((await links.createVm('host1', { id: vm.uuid, xml: vm.xml }, signal)).ok).toBe(true);
    const again = await links.createVm('host1', { id: vm.uuid, xml: vm.xml }, signal);
    expect(again.ok).toBe(false);
    expect(again.detail).toMatch(/already exists/);
    await links.destroyVm('host1', vm.uuid, signal);
  });

  it('a VM whose start libvirt refuses is listed Down with the error; destroyVm clears the entry', async () => {
    const vm = engineDomainXml();
    const xml = vm.xml.replace('</domain>', '<on_crash>explode</on_crash></domain>');
    expect((await links.createVm('host1', { id: vm.uuid, xml }, signal)).ok).toBe(true); // accepted, then it fails
    const seen = await waitFor(
      'the VM to be listed Down',
      async () => (await links.listVms('host1', signal))?.find((v) => v.id === vm.uuid && v.status === 'Down'),
      10_000,
    );
    expect(seen.error).toMatch(/on_crash/);
    expect(await links.destroyVm('host1', vm.uuid, signal)).toBe(true);
    expect((await links.listVms('host1', signal))?.some((v) => v.id === vm.uuid)).toBe(false);
  });

  it('listVms is null for a host that does not answer', async () => {
    links.setHost('nobody', { address: '127.0.0.1', port: 1 });
    expect(await links.listVms('nobody', signal)).toBeNull();
  });
});

describe('HA maintenance and the witness probe', () => {
  it('setHaMaintenance is false on a host without hosted-engine HA (vdsmd answers 40)', async () => {
    expect(await links.setHaMaintenance('host1', true, signal)).toBe(false);
  });

  it('probe asks the witness: true for a live target, false for a dead one, null when the witness is dead', async () => {
    const target = await startVdsmdProcess({ pki });
    try {
      links.setHost('target', { address: '127.0.0.1', port: target.port });
      expect(await links.probe('host1', 'target', signal)).toBe(true);
      await target.stop();
      expect(await links.probe('host1', 'target', signal)).toBe(false);
      expect(await links.probe('nobody', 'host1', signal)).toBeNull();
    } finally {
      await target.stop();
    }
  });
});

describe('hostEnv: the host calls of CoordinatorEnv', () => {
  const env = () =>
    hostEnv({
      links,
      softFence: new SoftFence({ secrets: new SecretFiles('/nonexistent'), log: captureLog().log }),
      signal: () => signal,
      host: (id) => (id === 'host1' ? hostRecord.parse({ id, address: '127.0.0.1', port: host1.port }) : undefined),
      vmXml: async (id) => xmls.get(id),
    });
  const xmls = new Map<string, string>();
  const record = (id: string) => ({
    ...NOT_IN_RECOVERY,
    id,
    ha: true,
    priority: 50,
    memMiB: 256,
    owner: null,
    state: 'stopped' as const,
    everUp: false,
    generation: 0,
  });

  it('starts a VM from its saved XML, and refuses one without a saved definition', async () => {
    const vm = engineDomainXml();
    xmls.set(vm.uuid, vm.xml);
    expect((await env().createVm('host1', record(vm.uuid), 1)).ok).toBe(true);
    expect(await env().destroyVm('host1', vm.uuid, 1)).toBe(true);
    expect(await env().createVm('host1', record(engineDomainXml().uuid), 1)).toEqual({
      ok: false,
      detail: expect.stringMatching(/no saved definition/),
    });
  });

  it('a fence agent the target does not have is an error; a host without SSH settings is not soft-fenced', async () => {
    expect(await env().fence('host1', 'host1', { name: 'ghost', order: 1 }, 'status', 1)).toBe('error');
    expect(await env().sshRestart('host1')).toEqual({ ok: false, detail: 'host host1 has no SSH settings' });
  });
});
