/**
 * The HA daemons' vdsmd connection (src/hosted-engine/vdsm-connect.ts) across a vdsmd restart, against the built
 * vdsmd as a real process: the agent's first call after systemd restarted vdsmd (say, the stop of an engine VM it
 * has to stop now) must reach the new vdsmd, not fail on the connection that died with the old one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { confFrom } from '../src/hosted-engine/conf.js';
import { vdsmCaller } from '../src/hosted-engine/vdsm-connect.js';
import { startVdsmdProcess, type VdsmdProcess } from './support/vdsmd-start.js';

const started: VdsmdProcess[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) await p.stop();
});

async function vdsmd(port?: number): Promise<VdsmdProcess> {
  const p = await startVdsmdProcess({ args: port === undefined ? [] : ['--port', String(port)] });
  started.push(p);
  return p;
}

describe('vdsmCaller', () => {
  it('the first call after vdsmd restarted reaches the new vdsmd', async () => {
    const first = await vdsmd();
    const conf = confFrom(
      new Map([
        ['host_id', '1'],
        ['vmid', 'x'],
        ['vm_xml', '/dev/null'],
        ['metadata', '/dev/null'],
        ['lockspace', '/dev/null'],
        ['vdsm_host', '127.0.0.1'],
        ['vdsm_port', String(first.port)],
        ['vdsm_ssl', 'false'],
        ['health_url', 'http://127.0.0.1/'],
      ]),
    );
    const caller = vdsmCaller(conf);
    try {
      expect(await caller.call('Host.ping2', {})).toBe(true);
      await first.stop();
      const second = await vdsmd(first.port);
      expect(second.port).toBe(first.port);
      expect(second.pid).not.toBe(first.pid);
      // The old connection closed while nobody called: this call must not be the one that finds out.
      expect(await caller.call('Host.ping2', {})).toBe(true);
    } finally {
      await caller.close();
    }
  }, 60_000);
});
