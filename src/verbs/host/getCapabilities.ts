import { z } from 'zod';
import { hostCapabilities } from '../../host/capabilities.js';
import { defineVerb } from '../define.js';

// vdsm sends many numbers and flags as strings; the engine parses them back (docs/protocol.md, "Number types the
// engine accepts").
const uintString = z.string().regex(/^\d+$/);
const boolString = z.enum(['true', 'false']);
const int = z.number().int();
const uint = z.number().int().nonnegative();
const idKey = z.string().regex(/^\d+$/);

const devInfo = {
  addr: z.string(),
  netmask: z.string(),
  ipv4addrs: z.array(z.string()).describe('CIDR form'),
  ipv6addrs: z.array(z.string()).describe('CIDR form, link-local left out'),
  ipv6autoconf: z.boolean(),
  gateway: z.string().describe('"" when none'),
  ipv6gateway: z.string().describe('"::" when none'),
  ipv4defaultroute: z.boolean(),
  mtu: uintString,
  dhcpv4: z.boolean(),
  dhcpv6: z.boolean(),
};

const package2 = z.object({ version: z.string(), release: z.string() });

export const capabilitiesResult = z.object({
  kvmEnabled: boolString.describe('"true" when /dev/kvm exists'),
  cpuCores: uintString,
  cpuThreads: uintString,
  cpuSockets: uintString,
  onlineCpus: z.string().regex(/^\d+(,\d+)*$/),
  cpuTopology: z.array(z.object({ cpu_id: uint, numa_cell_id: uint, socket_id: uint, die_id: uint, core_id: uint })),
  cpuSpeed: z
    .string()
    .regex(/^\d+(\.\d+)?$/)
    .describe('MHz'),
  cpuModel: z.string(),
  cpuFlags: z.string().describe('comma-separated'),
  vdsmToCpusAffinity: z.array(uint),
  version_name: z.string(),
  software_version: z.string().min(1),
  software_revision: z.string().min(1),
  supportedENGINEs: z.array(z.string().regex(/^\d+\.\d+$/)),
  clusterLevels: z.array(z.string().regex(/^\d+\.\d+$/)),
  operatingSystem: z.object({
    name: z.enum(['RHEL', 'Fedora', 'oVirt Node', 'RHEV Hypervisor', 'Debian', 'unknown']),
    version: z.string(),
    release: z.string(),
    pretty_name: z.string(),
  }),
  uuid: z.string(),
  packages2: z.record(z.string(), package2),
  realtimeKernel: z.boolean(),
  kernelArgs: z.string(),
  nestedVirtualization: z.boolean(),
  emulatedMachines: z.array(z.string()),
  vmTypes: z.array(z.literal('kvm')),
  memSize: uintString.describe('MiB'),
  reservedMem: uintString.describe('MiB'),
  guestOverhead: uintString.describe('MiB'),
  rngSources: z.array(z.enum(['random', 'hwrng'])),
  numaNodes: z.record(
    idKey,
    z.object({
      cpus: z.array(uint),
      totalMemory: uintString.describe('MiB'),
      hugepages: z.record(idKey, z.object({ totalPages: uintString })),
    }),
  ),
  numaNodeDistance: z.record(idKey, z.array(int)),
  autoNumaBalancing: z.union([z.literal(0), z.literal(1), z.literal(2)]).describe('0 off, 1 on, 2 unknown'),
  liveSnapshot: boolString,
  liveMerge: boolString,
  hostdevPassthrough: boolString,
  additionalFeatures: z.array(z.string()),
  hugepages: z.array(uint).describe('supported hugepage sizes, KiB'),
  kernelFeatures: z.record(z.string(), z.string()),
  fipsEnabled: z.boolean(),
  tscFrequency: z.string(),
  tscScaling: z.boolean(),
  ovnConfigured: z.boolean(),
  networks: z.record(z.string(), z.never()).describe('engine-defined networks; none until network setup exists'),
  nics: z.record(
    z.string(),
    z.object({ ...devInfo, hwaddr: z.string(), speed: int.describe('Mbps, 0 when down or unknown') }),
  ),
  bridges: z.record(
    z.string(),
    z.object({
      ...devInfo,
      ports: z.array(z.string()),
      stp: z.enum(['on', 'off']),
      opts: z.record(z.string(), z.string()),
    }),
  ),
  bondings: z.record(
    z.string(),
    z.object({
      ...devInfo,
      hwaddr: z.string(),
      slaves: z.array(z.string()),
      active_slave: z.string(),
      opts: z.record(z.string(), z.string()),
      speed: int,
      switch: z.literal('legacy'),
    }),
  ),
  vlans: z.record(z.string(), z.object({ ...devInfo, iface: z.string(), vlanid: uint })),
  nameservers: z.array(z.string()),
  supportsIPv6: z.boolean(),
  selinux: z.object({ mode: z.enum(['1', '0', '-1']) }),
  kdumpStatus: z.union([z.literal(-1), z.literal(0), z.literal(1)]),
  ISCSIInitiatorName: z.string(),
  HBAInventory: z.object({
    iSCSI: z.array(z.object({ InitiatorName: z.string() })),
    FC: z.array(z.object({ wwpn: z.string(), wwnn: z.string(), model: z.string() })),
  }),
  hooks: z.record(z.string(), z.never()),
  hostedEngineDeployed: z.boolean(),
  vncEncrypted: z.boolean(),
  netConfigDirty: z.enum(['True', 'False']),
  lastClientIface: z.string().describe('device holding the address the request came in on, "" if unknown'),
});

export default defineVerb({
  name: 'Host.getCapabilities',
  description:
    'Describes what this host is and offers: CPU and NUMA layout, memory, OS and agent versions, supported cluster levels, and network devices. The engine reads it when a host is added or activated.',
  params: z.object({}),
  result: capabilitiesResult,
  handler: async (_params, ctx) => {
    const caps = await hostCapabilities(ctx.localAddress);
    // The version of the libvirt library vdsmd talks through (vdsm reads it from the package database).
    const libvirt = ctx.vms?.hypervisor.libvirtVersion;
    if (libvirt) caps.packages2.libvirt = { version: libvirt, release: '' };
    return caps;
  },
});
