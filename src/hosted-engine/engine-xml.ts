import { readFile } from 'node:fs/promises';
import { brokerClient } from './broker/client.js';
import type { HeConf } from './conf.js';

/**
 * The engine VM's domain XML as started on this host: the configured XML plus, with sanlock, the `<lease>`
 * device through which libvirt acquires the engine VM lease for qemu (unless the XML already has one).
 */
export async function engineVmXml(conf: HeConf): Promise<string> {
  const xml = await readFile(conf.vmXml, 'utf8');
  const lease = await brokerClient(conf.brokerSocket).call('leaseXml', {}, { timeoutMs: 10_000 });
  if (lease === null || /<lease[\s>]/.test(xml)) return xml;
  if (!xml.includes('</devices>'))
    throw new Error(`${conf.vmXml}: the engine VM's domain XML has no <devices> for its lease`);
  return xml.replace('</devices>', `  ${lease}\n  </devices>`);
}
