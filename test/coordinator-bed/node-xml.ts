/**
 * A bed host's libvirt test-driver node file: the host's "QEMU processes". vdsmd opens it at start
 * (`test:///abs/path`) and recovers the domains it lists; so the domains written there before vdsmd is killed or
 * restarted on purpose survive it, and an emptied file is a host whose guests died with its power. No vitest here.
 */
import { writeFileSync } from 'node:fs';
import { forDriver } from '../../src/virt/domxml.js';

/** The domain as the test driver lists it in a node file: type 'test', no XML declaration, running. */
export function nodeDomain(xml: string): string {
  return forDriver(xml.replace(/^<\?xml[^>]*\?>\s*/, ''), 'test:').trim();
}

export function writeNodeFile(file: string, domainXmls: string[]): void {
  writeFileSync(file, `<node>\n${domainXmls.map(nodeDomain).join('\n')}\n</node>\n`);
}
