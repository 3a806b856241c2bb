/**
 * A bed host's libvirt test-driver node file: the host's "QEMU processes". vdsmd opens it at start
 * (`test:///abs/path`) and recovers the domains it lists; so the domains written there before vdsmd is killed or
 * restarted on purpose survive it, and an emptied file is a host whose guests died with its power. No vitest here.
 */
import { writeFileSync } from 'node:fs';
import { forDriver } from '../../src/virt/domxml.js';

/** libvirt's test-driver namespace: `<test:runstate>` sets a domain's state in a node file. */
const TEST_NS = 'http://libvirt.org/schemas/domain/test/1.0';
/** virDomainState's VIR_DOMAIN_SHUTOFF. */
const SHUTOFF = 5;

/**
 * The domain as the test driver lists it in a node file: type 'test', no XML declaration, running; or shut off
 * (reason unknown), which is how a guest that died while vdsmd was down looks to vdsmd's recovery.
 */
export function nodeDomain(xml: string, shutOff = false): string {
  const d = forDriver(xml.replace(/^<\?xml[^>]*\?>\s*/, ''), 'test:').trim();
  if (!shutOff) return d;
  return d
    .replace(/^<domain\b/, `<domain xmlns:test='${TEST_NS}'`)
    .replace(/<\/domain>$/, `<test:runstate>${SHUTOFF}</test:runstate></domain>`);
}

/** The node file: `domainXmls` running, `shutOffXmls` shut off. */
export function writeNodeFile(file: string, domainXmls: string[], shutOffXmls: string[] = []): void {
  const domains = [...domainXmls.map((x) => nodeDomain(x)), ...shutOffXmls.map((x) => nodeDomain(x, true))];
  writeFileSync(file, `<node>\n${domains.join('\n')}\n</node>\n`);
}
