import { describe, expect, it } from 'vitest';
import { startVdsmdProcess } from './support/vdsmd-process.js';

/** stop() sends SIGTERM and only SIGKILLs after 5 s: exit code 0 proves vdsmd stopped by itself. */
describe('vdsmd shutdown', () => {
  it('exits 0 on SIGTERM', async () => {
    const vdsmd = await startVdsmdProcess();
    expect(await vdsmd.stop()).toBe(0);
  });

  it('exits 0 on SIGTERM even when nobody reads its log any more (journald restarted, a dead pipe)', async () => {
    const vdsmd = await startVdsmdProcess();
    vdsmd.child.stdout!.destroy();
    vdsmd.child.stderr!.destroy();
    expect(await vdsmd.stop()).toBe(0);
  });
});
