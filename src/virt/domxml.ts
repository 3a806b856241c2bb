import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { sizeMiB, xmlText } from '../common/libvirt-xml.js';

/** What vdsmd needs to know about a domain before libvirt has it. */
export interface DomainFacts {
  uuid: string;
  name: string;
  memoryMiB: number;
  vcpus: number;
  acpi: boolean;
  /** The domain's `type` attribute: kvm, qemu, test. */
  domainType: string;
}

/** Devices vdsm reports in VM stats, read from the live XML. */
export interface LiveDevices {
  nics: Map<string, { mac: string; model: string }>;
  displays: { type: string; port: string; tlsPort: string; ipAddress: string }[];
  hasBalloon: boolean;
}

/** A definition vdsmd refuses; becomes vdsm's error 9 (createErr) or 11 (MissParam). */
export class DomainXmlError extends Error {
  override name = 'DomainXmlError';
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  removeNSPrefix: false,
});

/** Reads uuid, name, memory, vCPUs and ACPI from domain XML; refuses what libvirt would refuse later and worse. */
export function domainFacts(xml: string): DomainFacts {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new DomainXmlError(`malformed domain XML: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = parser.parse(xml) as { domain?: Record<string, unknown> };
  const domain = doc.domain;
  if (!domain || typeof domain !== 'object') throw new DomainXmlError('the XML is not a libvirt <domain>');
  const uuid = xmlText(domain.uuid);
  if (!uuid) throw new DomainXmlError('the domain XML has no <uuid>', true);
  if (!UUID.test(uuid)) throw new DomainXmlError(`the domain <uuid> "${uuid}" is not a UUID`);
  const name = xmlText(domain.name);
  if (!name) throw new DomainXmlError('the domain XML has no <name>', true);
  const memoryMiB = memoryOf(domain.memory ?? domain.currentMemory);
  const vcpus = Number(xmlText(domain.vcpu) ?? '1');
  if (!Number.isInteger(vcpus) || vcpus < 1)
    throw new DomainXmlError(`<vcpu> must be a positive whole number, not "${xmlText(domain.vcpu)}"`);
  const features = domain.features;
  const acpi = typeof features === 'object' && features !== null && 'acpi' in features;
  return { uuid: uuid.toLowerCase(), name, memoryMiB, vcpus, acpi, domainType: String(domain['@type'] ?? 'kvm') };
}

const list = (node: unknown): Record<string, unknown>[] =>
  Array.isArray(node) ? node : node && typeof node === 'object' ? [node as Record<string, unknown>] : [];
const attr = (node: unknown, name: string): string =>
  node && typeof node === 'object' ? String((node as Record<string, unknown>)[`@${name}`] ?? '') : '';

/** NICs (by their host-side target device), graphics and the balloon of a running domain. */
export function liveDevices(xml: string): LiveDevices {
  const devices = (parser.parse(xml) as { domain?: { devices?: Record<string, unknown> } }).domain?.devices ?? {};
  const nics = new Map<string, { mac: string; model: string }>();
  for (const nic of list(devices.interface)) {
    const dev = attr(nic.target, 'dev');
    if (dev) nics.set(dev, { mac: attr(nic.mac, 'address'), model: attr(nic.model, 'type') });
  }
  const displays = list(devices.graphics).map((g) => ({
    type: attr(g, 'type'),
    port: attr(g, 'port'),
    tlsPort: attr(g, 'tlsPort'),
    ipAddress: attr(g.listen, 'address') || '0',
  }));
  const balloons = list(devices.memballoon);
  return { nics, displays, hasBalloon: balloons.length === 1 && attr(balloons[0], 'model') !== 'none' };
}

function memoryOf(node: unknown): number {
  const value = xmlText(node);
  if (value === undefined) throw new DomainXmlError('the domain XML has no <memory>', true);
  const mib = sizeMiB(node);
  if (mib === undefined || Number(value) <= 0) {
    const unit = node && typeof node === 'object' ? String((node as Record<string, unknown>)['@unit'] ?? 'KiB') : 'KiB';
    throw new DomainXmlError(`<memory> must be a positive size, not "${value}" ${unit.toLowerCase()}`);
  }
  return mib;
}

/** libvirt's test driver only runs `type='test'` domains; every other driver keeps what it was given. */
export function forDriver(xml: string, uri: string): string {
  if (!uri.startsWith('test:')) return xml;
  return xml.replace(
    /<domain(\s[^>]*?)?\stype=(['"])[^'"]*\2/,
    (_m, before: string | undefined) => `<domain${before ?? ''} type='test'`,
  );
}

/** vdsm's legacy VM.create parameters (no `xml`): the ones we turn into a domain. */
export interface LegacyVmParams {
  vmId: string;
  vmName: string;
  memSize: number;
  smp: number;
  acpiEnable: boolean;
  kvmEnable: boolean;
  emulatedMachine?: string;
  kernel?: string;
  initrd?: string;
  kernelArgs?: string;
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  format: true,
  suppressEmptyNode: true,
});

/** Builds the libvirt domain XML for legacy vmParams, as vdsm's domain descriptor did before the engine sent XML. */
export function legacyDomainXml(p: LegacyVmParams): string {
  const os: Record<string, unknown> = {
    type: { '#text': 'hvm', '@arch': 'x86_64', ...(p.emulatedMachine ? { '@machine': p.emulatedMachine } : {}) },
  };
  if (p.kernel) {
    os.kernel = p.kernel;
    if (p.initrd) os.initrd = p.initrd;
    if (p.kernelArgs) os.cmdline = p.kernelArgs;
  } else {
    os.boot = { '@dev': 'hd' };
  }
  const domain = {
    '@type': p.kvmEnable ? 'kvm' : 'qemu',
    name: p.vmName,
    uuid: p.vmId,
    memory: { '#text': String(p.memSize * 1024), '@unit': 'KiB' },
    currentMemory: { '#text': String(p.memSize * 1024), '@unit': 'KiB' },
    vcpu: { '#text': String(p.smp), '@placement': 'static' },
    os,
    features: p.acpiEnable ? { acpi: '' } : undefined,
    clock: { '@offset': 'utc' },
    on_poweroff: 'destroy',
    on_reboot: 'restart',
    on_crash: 'destroy',
    devices: { memballoon: { '@model': 'none' } },
  };
  // suppressEmptyNode turns <acpi></acpi> into <acpi/>; an undefined features element is left out.
  return builder.build({ domain }) as string;
}
