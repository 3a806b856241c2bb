/**
 * What `vm define` needs from a libvirt domain XML: its UUID (the VM's id), its name, and its memory in MiB for
 * placement. The coordinator may not import vdsmd's own reader (src/virt/, .dependency-cruiser.cjs), so this is a
 * second, smaller one with the same unit table (libvirt's: b, k/KiB, KB, M/MiB, MB, G/GiB, GB, T/TiB, TB).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InventoryError } from './errors.js';

export interface DomainSummary {
  /** Lower case, as libvirt and vdsmd report it. */
  uuid: string;
  name: string;
  memMiB: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const KIB_PER_UNIT: Record<string, number> = {
  b: 1 / 1024,
  bytes: 1 / 1024,
  k: 1,
  kib: 1,
  kb: 1000 / 1024,
  m: 1024,
  mib: 1024,
  mb: 1e6 / 1024,
  g: 1024 ** 2,
  gib: 1024 ** 2,
  gb: 1e9 / 1024,
  t: 1024 ** 3,
  tib: 1024 ** 3,
  tb: 1e12 / 1024,
};

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false });

/** The text of an element that may carry attributes (`<memory unit="MiB">512</memory>`). */
function text(node: unknown): string | undefined {
  if (typeof node === 'string') return node.trim();
  if (node && typeof node === 'object' && '#text' in node)
    return String((node as Record<string, unknown>)['#text']).trim();
  return undefined;
}

/**
 * `<memory>` is what the guest may use at most: placement counts that, not `<currentMemory>` (the balloon may give
 * the rest back at any time). `<currentMemory>` alone is taken when `<memory>` is missing.
 */
function memoryMiB(domain: Record<string, unknown>): number {
  const node = domain.memory ?? domain.currentMemory;
  const value = text(node);
  if (value === undefined) throw new InventoryError('invalid', 'the domain XML has no <memory>');
  const attr = node && typeof node === 'object' ? (node as Record<string, unknown>)['@unit'] : undefined;
  const unit = String(attr ?? 'KiB').toLowerCase();
  const factor = KIB_PER_UNIT[unit];
  if (!/^\d+$/.test(value) || factor === undefined)
    throw new InventoryError('invalid', 'the domain <memory> must be a whole number with a libvirt unit');
  const mib = Math.round((Number(value) * factor) / 1024);
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
  const uuid = text(d.uuid);
  if (!uuid) throw new InventoryError('invalid', 'the domain XML has no <uuid>: the VM needs one to be defined');
  if (!UUID.test(uuid)) throw new InventoryError('invalid', 'the domain <uuid> is not a UUID');
  const name = text(d.name);
  if (!name) throw new InventoryError('invalid', 'the domain XML has no <name>');
  return { uuid: uuid.toLowerCase(), name, memMiB: memoryMiB(d) };
}
