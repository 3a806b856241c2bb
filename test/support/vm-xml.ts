import { randomUUID } from 'node:crypto';

/** A small domain XML as the engine would send it (oVirt metadata, ACPI); the test driver runs it as type 'test'. */
export function engineDomainXml(options: { uuid?: string; name?: string; acpi?: boolean; memoryMiB?: number } = {}): {
  uuid: string;
  xml: string;
} {
  const uuid = options.uuid ?? randomUUID();
  const name = options.name ?? `vm-${uuid.slice(0, 8)}`;
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<domain type="kvm" xmlns:ovirt-vm="http://ovirt.org/vm/1.0">
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <metadata><ovirt-vm:vm><ovirt-vm:clusterVersion>4.8</ovirt-vm:clusterVersion></ovirt-vm:vm></metadata>
  <memory unit="MiB">${options.memoryMiB ?? 256}</memory>
  <vcpu>2</vcpu>
  <os><type arch="x86_64">hvm</type></os>
  ${options.acpi === false ? '' : '<features><acpi/></features>'}
</domain>`;
  return { uuid, xml };
}
