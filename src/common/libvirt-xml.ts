/**
 * Two readings of libvirt domain XML (as fast-xml-parser gives it, attributes under `@`) that vdsmd's reader
 * (src/virt/domxml.ts) and the coordinator's (src/coordinator/inventory/domain-xml.ts) share.
 */

/** KiB per unit, libvirt's table (b, bytes, k/KiB, KB, M/MiB, MB, G/GiB, GB, T/TiB, TB; case ignored). */
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

/** The text of an element that may carry attributes (`<memory unit="MiB">512</memory>`). */
export function xmlText(node: unknown): string | undefined {
  if (typeof node === 'string') return node.trim();
  if (node && typeof node === 'object' && '#text' in node)
    return String((node as Record<string, unknown>)['#text']).trim();
  return undefined;
}

/**
 * A size element (`<memory>`, `<currentMemory>`) in MiB, rounded; its unit attribute defaults to KiB as in libvirt.
 * undefined: no text, not a whole number, or a unit libvirt does not know.
 */
export function sizeMiB(node: unknown): number | undefined {
  const value = xmlText(node);
  const attr = node && typeof node === 'object' ? (node as Record<string, unknown>)['@unit'] : undefined;
  const factor = KIB_PER_UNIT[String(attr ?? 'KiB').toLowerCase()];
  if (value === undefined || !/^\d+$/.test(value) || factor === undefined) return undefined;
  return Math.round((Number(value) * factor) / 1024);
}
