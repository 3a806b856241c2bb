import { z } from 'zod';
import { DomainXmlError, domainFacts, legacyDomainXml } from '../../virt/domxml.js';
import { vmsOf } from '../context.js';
import { defineVerb } from '../define.js';
import { VdsmError } from '../../common/errors.js';
import { boolParam, intParam } from '../params.js';

const positive = (what: string) => intParam((n) => n.positive(`${what} must be positive`));

const vmParams = z.looseObject({
  xml: z.string().optional().describe('libvirt domain XML (what the engine sends); the VM id is its <uuid>'),
  vmId: z.string().optional().describe('legacy form: the VM UUID'),
  vmName: z.string().min(1).optional().describe('legacy form: the domain name'),
  memSize: positive('memSize').optional().describe('legacy form: memory in MiB (required without xml)'),
  smp: positive('smp').optional().describe('legacy form: number of vCPUs (default 1)'),
  acpiEnable: boolParam().optional().describe('legacy form: expose ACPI (default true)'),
  kvmEnable: boolParam().optional().describe('legacy form: false runs the guest under plain QEMU emulation'),
  emulatedMachine: z.string().optional(),
  kernel: z.string().optional().describe('legacy form: direct-boot kernel path on the host'),
  initrd: z.string().optional(),
  kernelArgs: z.string().optional(),
  launchPaused: boolParam().optional().describe('start with the CPUs paused (hosted-engine --vm-start-paused)'),
});

export default defineVerb({
  name: 'VM.create',
  description:
    'Creates and starts a VM. vmParams.xml is a libvirt domain XML as the engine sends it; without it, the legacy ' +
    'vmParams (vmId, vmName, memSize, smp, …) describe the VM and vdsmd builds the XML. Answers at once with ' +
    'WaitForLaunch; the start is reported by VM_status events. 4 when the VM exists, 11 for a missing legacy ' +
    'parameter, 100 for XML that is not a valid domain.',
  params: z.object({ vmID: z.string().optional().describe('ignored when the XML names the VM, as in vdsm'), vmParams }),
  result: z.object({ vmId: z.string(), status: z.literal('WaitForLaunch'), statusTime: z.string(), xml: z.string() }),
  handler: ({ vmID, vmParams: p }, ctx) => {
    const vms = vmsOf(ctx);
    const xml = p.xml ?? legacyXml(p, vmID);
    try {
      return vms.create(xml, domainFacts(xml), { paused: p.launchPaused ?? false });
    } catch (err) {
      if (err instanceof DomainXmlError) throw VdsmError.general(err.message);
      throw err;
    }
  },
});

function legacyXml(p: z.output<typeof vmParams>, vmID: string | undefined): string {
  const vmId = p.vmId ?? vmID;
  if (!vmId) throw VdsmError.of('MissParam', { param: 'vmId' });
  if (p.memSize === undefined) throw VdsmError.of('MissParam', { param: 'memSize' });
  return legacyDomainXml({
    vmId,
    vmName: p.vmName ?? vmId,
    memSize: p.memSize,
    smp: p.smp ?? 1,
    acpiEnable: p.acpiEnable ?? true,
    kvmEnable: p.kvmEnable ?? true,
    emulatedMachine: p.emulatedMachine,
    kernel: p.kernel,
    initrd: p.initrd,
    kernelArgs: p.kernelArgs,
  });
}
