/**
 * What `vm define` needs from a libvirt domain XML: its UUID (the VM's id), its name, and its memory in MiB for
 * placement. The coordinator may not import vdsmd's own reader (src/virt/, .dependency-cruiser.cjs), so this is a
 * second, smaller one; the size units are src/common's, shared with it.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { sizeMiB, xmlText } from '../../common/libvirt-xml.js';
import { InventoryError } from './errors.js';

export interface DomainSummary {
  /** Lower case, as libvirt and vdsmd report it. */
  uuid: string;
  name: string;
  memMiB: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false });

/**
 * `<memory>` is what the guest may use at most: placement counts that, not `<currentMemory>` (the balloon may give
 * the rest back at any time). `<currentMemory>` alone is taken when `<memory>` is missing.
 */
function memoryMiB(domain: Record<string, unknown>): number {
  const node = domain.memory ?? domain.currentMemory;
  if (xmlText(node) === undefined) throw new InventoryError('invalid', 'the domain XML has no <memory>');
  const mib = sizeMiB(node);
  if (mib === undefined)
    throw new InventoryError('invalid', 'the domain <memory> must be a whole number with a libvirt unit');
  if (mib < 1) throw new InventoryError('invalid', 'the domain <memory> is less than 1 MiB');
  return mib;
}

export function summarizeDomain(xml: string): DomainSummary {
  const valid = XMLValidator.validate(xml);
  if (valid !== true)
    throw new InventoryError('invalid', `the domain XML is malformed: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = parser.parse(xml) as Record<string, unknown>;
  const domain = doc.domain;
  if (!domain || typeof domain !== 'object' || Array.isArray(domain))
    throw new InventoryError('invalid', 'the XML is not one libvirt <domain>');
  const d = domain as Record<string, unknown>;
  const uuid = xmlText(d.uuid);
  if (!uuid) throw new InventoryError('invalid', 'the domain XML has no <uuid>: the VM needs one to be defined');
  if (!UUID.test(uuid)) throw new InventoryError('invalid', 'the domain <uuid> is not a UUID');
  const name = xmlText(d.name);
  if (!name) throw new InventoryError('invalid', 'the domain XML has no <name>');
  return { uuid: uuid.toLowerCase(), name, memMiB: memoryMiB(d) };
}
