import type { ExitInfo, Vm } from './vm.js';
import { type PauseCode, VmStatus, type VmStatusName } from './vmstatus.js';

/** One bulk sample of a domain: libvirt's flat stats (`cpu.time`, `net.0.rx.bytes`, …) at a monotonic time. */
export interface Sample {
  at: number;
  stats: Record<string, number | string>;
}

/** The newest two samples, as vdsm keeps a window of two for rates. */
export interface SampleWindow {
  last: Sample;
  prev?: Sample;
}

const fixed2 = (n: number) => (Number.isFinite(n) ? n : 0).toFixed(2);
const int = (n: number | string | undefined) => String(Math.trunc(Number(n ?? 0)) || 0);
const num = (s: Sample | undefined, key: string) => Number(s?.stats[key] ?? 0);

/** One NIC in a VM's stats (`network`), counters as decimal strings. */
export type VmNicStats = {
  macAddr: string;
  name: string;
  speed: string;
  state: string;
  rxErrors: string;
  rxDropped: string;
  txErrors: string;
  txDropped: string;
  rx: string;
  tx: string;
  sampleTime: number;
};

/** One disk in a VM's stats (`disks`), counters as decimal strings. */
export type VmDiskStats = {
  truesize: string;
  apparentsize: string;
  readLatency: string;
  writeLatency: string;
  flushLatency: string;
  readOps: string;
  writeOps: string;
  readBytes: string;
  writtenBytes: string;
  readRate: string;
  writeRate: string;
};

export type VmBalloonInfo = {
  balloon_max: string;
  balloon_min: string;
  balloon_cur: string;
  balloon_target: string;
  ballooning_enabled: boolean;
};

/** What a VM that is not Down reports about its run (also the payload of the "start finished" VM_status event). */
export type RunningVmStats = {
  elapsedTime: string;
  monitorResponse: '0' | '-1';
  clientIp: string;
  timeOffset: string;
  cpuUser: string;
  cpuSys: string;
  cpuUsage: string;
  cpuActual: boolean;
  displayInfo: Vm['displays'];
  hash?: string;
  pauseCode?: PauseCode;
  vcpuCount?: string;
  network?: Record<string, VmNicStats>;
  disks?: Record<string, VmDiskStats>;
  balloonInfo?: VmBalloonInfo;
  vmJobs?: Record<string, never>;
};

/** A Down VM's stats: the exit triple only. */
export type DownVmStats = {
  statusTime: string;
  status: typeof VmStatus.Down;
  vmId: string;
  exitCode: ExitInfo['exitCode'];
  exitReason: ExitInfo['exitReason'];
  exitMessage: string;
};

/** A VM that is not Down: what it is, how it runs, and the guest agent figures (placeholders: no guest agent is read). */
export type LiveVmStats = {
  statusTime: string;
  status: Exclude<VmStatusName, typeof VmStatus.Down>;
  vmId: string;
  vmName: string;
  vmType: string;
  kvmEnable: 'true';
  acpiEnable: 'true' | 'false';
} & RunningVmStats &
  GuestAgentStats;

type GuestAgentStats = {
  username: string;
  session: string;
  memUsage: string;
  guestCPUCount: number;
  appsList: string[];
  guestIPs: string;
  guestFQDN: string;
};

/** One VM as VM.getStats and Host.getAllVmStats report it (vm.py getStats). */
export type VmStats = DownVmStats | LiveVmStats;

/** vdsm's statusTime: integer monotonic milliseconds, as a string. */
export function statusTime(ms: number): string {
  return String(Math.trunc(ms));
}

/** What VM.getStats / Host.getAllVmStats report for one VM (vm.py getStats), with vdsm's wire types. */
export function vmStats(vm: Vm, now: number, window: SampleWindow | undefined): VmStats {
  const status = vm.status(now);
  if (status === VmStatus.Down) {
    const exit = vm.exit!;
    return {
      statusTime: statusTime(vm.statusTime),
      status,
      vmId: vm.id,
      exitCode: exit.exitCode,
      exitReason: exit.exitReason,
      exitMessage: exit.exitMessage,
    };
  }
  return {
    statusTime: statusTime(vm.statusTime),
    status,
    vmId: vm.id,
    vmName: vm.name,
    vmType: vm.domainType,
    kvmEnable: 'true',
    acpiEnable: vm.acpi ? 'true' : 'false',
    ...runningStats(vm, now, window),
    username: 'Unknown',
    session: 'Unknown',
    memUsage: '0',
    guestCPUCount: -1,
    appsList: [],
    guestIPs: '',
    guestFQDN: '',
  };
}

/** The running part alone: also the payload of the "start finished" VM_status event. */
export function runningStats(vm: Vm, now: number, window: SampleWindow | undefined): RunningVmStats {
  // The keys every running VM has in one literal, then the optional ones.
  const stats: RunningVmStats = {
    elapsedTime: int(vm.startTime === undefined ? 0 : (now - vm.startTime) / 1000),
    // A VM whose last sample is a minute old no longer answers its monitor: the engine shows NotResponding.
    monitorResponse: window && vm.isRunning && now - window.last.at >= 60_000 ? '-1' : '0',
    clientIp: '',
    timeOffset: '0',
    ...cpuStats(window),
    displayInfo: vm.displays,
  };
  if (vm.hash !== undefined) stats.hash = vm.hash;
  if (vm.pauseCode !== undefined) stats.pauseCode = vm.pauseCode;
  if (!window) return stats;
  const vcpus = window.last.stats['vcpu.current'];
  if (vcpus !== undefined) stats.vcpuCount = int(vcpus);
  if (window.last.stats['net.count']) {
    const network = networkStats(vm, window.last);
    if (Object.keys(network).length) stats.network = network;
  }
  if (window.prev && window.last.stats['block.count']) {
    const disks = diskStats(window.prev, window.last);
    if (Object.keys(disks).length) stats.disks = disks;
  }
  const balloon = balloonInfo(vm, window.last);
  if (balloon) stats.balloonInfo = balloon;
  stats.vmJobs = {};
  return stats;
}

/** vdsm: cpuUsage is cumulative user+system ns; cpuUser/cpuSys are percent of one CPU over the last window. */
function cpuStats(
  window: SampleWindow | undefined,
): Pick<RunningVmStats, 'cpuUser' | 'cpuSys' | 'cpuUsage' | 'cpuActual'> {
  if (!window?.prev) return { cpuUser: '0.00', cpuSys: '0.00', cpuUsage: '0.00', cpuActual: false };
  const { prev, last } = window;
  const seconds = (last.at - prev.at) / 1000;
  const hasSplit = last.stats['cpu.user'] !== undefined;
  const sysNs = hasSplit
    ? num(last, 'cpu.user') - num(prev, 'cpu.user') + num(last, 'cpu.system') - num(prev, 'cpu.system')
    : 0;
  const totalNs = num(last, 'cpu.time') - num(prev, 'cpu.time');
  const pct = (ns: number) => (seconds > 0 ? Math.max(0, (100 * ns) / seconds / 1e9) : 0);
  return {
    cpuUser: fixed2(pct(totalNs - sysNs)),
    cpuSys: fixed2(pct(sysNs)),
    cpuUsage: int(hasSplit ? num(last, 'cpu.user') + num(last, 'cpu.system') : num(last, 'cpu.time')),
    cpuActual: true,
  };
}

function indexes(sample: Sample, group: 'net' | 'block'): number[] {
  const count = Number(sample.stats[`${group}.count`] ?? 0);
  return Array.from({ length: count }, (_, i) => i);
}

function networkStats(vm: Vm, last: Sample): Record<string, VmNicStats> {
  const out: Record<string, VmNicStats> = {};
  for (const i of indexes(last, 'net')) {
    const name = last.stats[`net.${i}.name`];
    if (typeof name !== 'string' || !name) continue;
    const v = (k: string) => int(last.stats[`net.${i}.${k}`]);
    const nic = vm.nics.get(name);
    out[name] = {
      macAddr: nic?.mac ?? '',
      name,
      speed: nic && ['e1000', 'e1000e', 'virtio'].includes(nic.model) ? '1000' : '100',
      state: 'unknown',
      rxErrors: v('rx.errs'),
      rxDropped: v('rx.drop'),
      txErrors: v('tx.errs'),
      txDropped: v('tx.drop'),
      rx: v('rx.bytes'),
      tx: v('tx.bytes'),
      sampleTime: last.at / 1000 + 1e-9, // a float on the wire even on a whole second
    };
  }
  return out;
}

function diskStats(prev: Sample, last: Sample): Record<string, VmDiskStats> {
  const out: Record<string, VmDiskStats> = {};
  const seconds = (last.at - prev.at) / 1000;
  for (const i of indexes(last, 'block')) {
    const name = last.stats[`block.${i}.name`];
    if (typeof name !== 'string' || !name) continue;
    const cur = (k: string) => num(last, `block.${i}.${k}`);
    const delta = (k: string) => cur(k) - num(prev, `block.${i}.${k}`);
    const latency = (times: string, reqs: string) => int(delta(reqs) > 0 ? delta(times) / delta(reqs) : 0);
    const rate = (k: string) => (seconds > 0 ? String(Math.max(0, delta(k)) / seconds) : '0.0');
    out[name] = {
      truesize: int(cur('physical') || cur('allocation')),
      apparentsize: int(cur('capacity')),
      readLatency: latency('rd.times', 'rd.reqs'),
      writeLatency: latency('wr.times', 'wr.reqs'),
      flushLatency: latency('fl.times', 'fl.reqs'),
      readOps: int(cur('rd.reqs')),
      writeOps: int(cur('wr.reqs')),
      readBytes: int(cur('rd.bytes')),
      writtenBytes: int(cur('wr.bytes')),
      readRate: rate('rd.bytes'),
      writeRate: rate('wr.bytes'),
    };
  }
  return out;
}

function balloonInfo(vm: Vm, last: Sample): VmBalloonInfo | undefined {
  if (!vm.hasBalloon || last.stats['balloon.current'] === undefined) return undefined;
  return {
    balloon_max: int(vm.memSizeMiB * 1024),
    balloon_min: '0',
    balloon_cur: int(last.stats['balloon.current']),
    balloon_target: int(last.stats['balloon.current']),
    ballooning_enabled: true,
  };
}
