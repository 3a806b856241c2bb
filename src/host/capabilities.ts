import os from 'node:os';
import { hugepageSizes } from './hugepages.js';
import { interfaceOwning, readNetworkCaps, type NetworkCaps } from './netinfo.js';
import {
  autoNumaBalancing,
  fipsEnabled,
  hostUuid,
  iscsiInitiatorName,
  isRealtimeKernel,
  kdumpStatus,
  kernelFeatures,
  kernelPackage,
  nestedVirtualization,
  processCpuAffinity,
  readOsVersion,
  rngSources,
  selinuxMode,
  type OsVersion,
} from './osinfo.js';
import { pageSizeBytes, readCmdline, readCpuinfo, readMeminfo } from './proc.js';
import { exists, readText } from './read.js';
import { readCpuTopology, readNodeHugepages, readNodeMemory, readNumaNodes, type CpuUnit } from './topology.js';
import { softwareVersion } from './version.js';

/** vdsm's defaults: host_mem_reserve 256 + extra_mem_reserve 65, guest_ram_overhead 65 (MiB). */
const RESERVED_MEM_MIB = '321';
const GUEST_OVERHEAD_MIB = '65';
const SUPPORTED_ENGINES = ['4.2', '4.3', '4.4', '4.5'];
/** vdsm adds 4.7 and 4.8 only after probing libvirt and qemu versions, which we do not do. */
const CLUSTER_LEVELS = ['4.2', '4.3', '4.4', '4.5', '4.6'];
const VERSION_NAME = 'vdsm-ts';

export interface NumaNodeCaps {
  cpus: number[];
  /** MiB */
  totalMemory: string;
  /** Page size in KiB (the base page size included) -> total pages on the node. */
  hugepages: Record<string, { totalPages: string }>;
}

/** Facts that do not change while the daemon runs, gathered once. */
interface StaticCaps {
  kvmEnabled: 'true' | 'false';
  cpuCores: string;
  cpuThreads: string;
  cpuSockets: string;
  onlineCpus: string;
  cpuTopology: CpuUnit[];
  cpuSpeed: string;
  cpuModel: string;
  cpuFlags: string;
  vdsmToCpusAffinity: number[];
  version_name: string;
  software_version: string;
  software_revision: string;
  supportedENGINEs: string[];
  clusterLevels: string[];
  operatingSystem: OsVersion;
  uuid: string;
  packages2: Record<string, { version: string; release: string }>;
  realtimeKernel: boolean;
  kernelArgs: string;
  nestedVirtualization: boolean;
  emulatedMachines: string[];
  vmTypes: ['kvm'];
  memSize: string;
  reservedMem: string;
  guestOverhead: string;
  rngSources: ('random' | 'hwrng')[];
  numaNodes: Record<string, NumaNodeCaps>;
  numaNodeDistance: Record<string, number[]>;
  autoNumaBalancing: 0 | 1 | 2;
  liveSnapshot: 'true' | 'false';
  liveMerge: 'true' | 'false';
  hostdevPassthrough: 'true' | 'false';
  additionalFeatures: string[];
  hugepages: number[];
  kernelFeatures: Record<string, string>;
  fipsEnabled: boolean;
  tscFrequency: string;
  tscScaling: boolean;
  ovnConfigured: boolean;
}

/** Facts read on every call: they change with admin actions (network, SELinux, kdump, HBAs). */
interface DynamicCaps {
  selinux: { mode: '1' | '0' | '-1' };
  kdumpStatus: -1 | 0 | 1;
  ISCSIInitiatorName: string;
  HBAInventory: { iSCSI: { InitiatorName: string }[]; FC: { wwpn: string; wwnn: string; model: string }[] };
  hooks: Record<string, never>;
  hostedEngineDeployed: boolean;
  vncEncrypted: boolean;
  netConfigDirty: 'True' | 'False';
  lastClientIface: string;
}

export type HostCapabilities = StaticCaps & DynamicCaps & NetworkCaps;

let staticCaps: Promise<StaticCaps> | undefined;

/** Host.getCapabilities for this machine; `localAddress` is where the request arrived (lastClientIface). */
export async function hostCapabilities(localAddress?: string): Promise<HostCapabilities> {
  staticCaps ??= readStaticCaps().catch((err: unknown) => {
    staticCaps = undefined;
    throw err;
  });
  const [fixed, network, dynamic] = await Promise.all([staticCaps, readNetworkCaps(), readDynamicCaps(localAddress)]);
  return { ...fixed, ...network, ...dynamic };
}

async function readStaticCaps(): Promise<StaticCaps> {
  const nodes = await readNumaNodes();
  const [topology, cpuinfo, meminfo, version, pageKiB] = await Promise.all([
    readCpuTopology(nodes),
    readCpuinfo(),
    readMeminfo(),
    softwareVersion(),
    pageSizeBytes().then((bytes) => bytes / 1024),
  ]);
  const numaNodes: Record<string, NumaNodeCaps> = {};
  for (const node of nodes) {
    const [mem, huge] = await Promise.all([readNodeMemory(node.id), readNodeHugepages(node.id)]);
    const hugepages: NumaNodeCaps['hugepages'] = {
      [String(pageKiB)]: { totalPages: String(Math.floor(mem.totalKiB / pageKiB)) },
    };
    for (const [size, counts] of huge) hugepages[String(size)] = { totalPages: String(counts.total) };
    numaNodes[String(node.id)] = { cpus: node.cpus, totalMemory: String(Math.floor(mem.totalKiB / 1024)), hugepages };
  }
  const fallbackCpu = os.cpus()[0];
  return {
    kvmEnabled: (await exists('/dev/kvm')) ? 'true' : 'false',
    cpuCores: String(topology.cores),
    cpuThreads: String(topology.threads),
    cpuSockets: String(topology.sockets),
    onlineCpus: topology.online.join(','),
    cpuTopology: topology.units,
    cpuSpeed: cpuinfo.mhz ?? String(fallbackCpu?.speed ?? 0),
    cpuModel: cpuinfo.model ?? fallbackCpu?.model ?? 'unavailable',
    cpuFlags: cpuinfo.flags.join(','),
    vdsmToCpusAffinity: (await processCpuAffinity()) ?? topology.online,
    version_name: VERSION_NAME,
    software_version: version.version,
    software_revision: version.revision,
    supportedENGINEs: SUPPORTED_ENGINES,
    clusterLevels: CLUSTER_LEVELS,
    operatingSystem: await readOsVersion(),
    uuid: await hostUuid(),
    // The engine reads its "VDSM version" from packages2.vdsm.
    packages2: { kernel: kernelPackage(), vdsm: { version: version.version, release: version.revision } },
    realtimeKernel: isRealtimeKernel(),
    kernelArgs: await readCmdline(),
    nestedVirtualization: await nestedVirtualization(),
    emulatedMachines: [],
    vmTypes: ['kvm'],
    memSize: String(Math.floor((meminfo.MemTotal ?? 0) / 1024)),
    reservedMem: RESERVED_MEM_MIB,
    guestOverhead: GUEST_OVERHEAD_MIB,
    rngSources: await rngSources(),
    numaNodes,
    numaNodeDistance: Object.fromEntries(nodes.map((n) => [String(n.id), n.distances])),
    autoNumaBalancing: await autoNumaBalancing(),
    // Features the engine would otherwise use against verbs this agent does not implement yet.
    liveSnapshot: 'false',
    liveMerge: 'false',
    hostdevPassthrough: 'false',
    additionalFeatures: [],
    hugepages: await hugepageSizes(),
    kernelFeatures: await kernelFeatures(),
    fipsEnabled: await fipsEnabled(),
    // vdsm learns the TSC counter from libvirt; without it vdsm too reports "" / false.
    tscFrequency: '',
    tscScaling: false,
    ovnConfigured: false,
  };
}

async function readDynamicCaps(localAddress: string | undefined): Promise<DynamicCaps> {
  const [mode, kdump, initiator, qemuConf] = await Promise.all([
    selinuxMode(),
    kdumpStatus(),
    iscsiInitiatorName(),
    readText('/etc/libvirt/qemu.conf'),
  ]);
  return {
    selinux: { mode },
    kdumpStatus: kdump,
    ISCSIInitiatorName: initiator,
    // The engine dereferences HBAInventory unconditionally, so it must always be there.
    HBAInventory: { iSCSI: initiator ? [{ InitiatorName: initiator }] : [], FC: [] },
    hooks: {},
    hostedEngineDeployed: false,
    vncEncrypted: /^\s*vnc_tls\s*=\s*1\b/m.test(qemuConf ?? ''),
    netConfigDirty: 'False',
    lastClientIface: interfaceOwning(localAddress),
  };
}
