import type { Vm } from './vm.js';
import { VmStatus } from './vmstatus.js';

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

/** vdsm's statusTime: integer monotonic milliseconds, as a string. */
export function statusTime(ms: number): string {
  return String(Math.trunc(ms));
}

/** What VM.getStats / Host.getAllVmStats report for one VM (vm.py getStats), with vdsm's wire types. */
export function vmStats(vm: Vm, now: number, window: SampleWindow | undefined): Record<string, unknown> {
  const status = vm.status(now);
  if (status === VmStatus.Down) {
    const exit = vm.exit!;
    return { statusTime: statusTime(vm.statusTime), status, vmId: vm.id, exitCode: exit.exitCode, exitReason: exit.exitReason, exitMessage: exit.exitMessage };
  }
  // One literal, then the optional keys: getAllVmStats builds a thousand of these per call.
  const stats: Record<string, unknown> = {
    statusTime: statusTime(vm.statusTime),
    status,
    vmId: vm.id,
    vmName: vm.name,
    vmType: vm.domainType,
    kvmEnable: 'true',
    acpiEnable: vm.acpi ? 'true' : 'false',
  };
  addRunningStats(stats, vm, now, window);
  stats.username = 'Unknown';
  stats.session = 'Unknown';
  stats.memUsage = '0';
  stats.guestCPUCount = -1;
  stats.appsList = [];
  stats.guestIPs = '';
  stats.guestFQDN = '';
  return stats;
}

/** The running part alone: also the payload of the "start finished" VM_status event. */
export function runningStats(vm: Vm, now: number, window: SampleWindow | undefined): Record<string, unknown> {
  const stats: Record<string, unknown> = {};
  addRunningStats(stats, vm, now, window);
  return stats;
}

function addRunningStats(stats: Record<string, unknown>, vm: Vm, now: number, window: SampleWindow | undefined): void {
  stats.elapsedTime = int(vm.startTime === undefined ? 0 : (now - vm.startTime) / 1000);
  // A VM whose last sample is a minute old no longer answers its monitor: the engine shows NotResponding.
  stats.monitorResponse = window && vm.isRunning && now - window.last.at >= 60_000 ? '-1' : '0';
  stats.clientIp = '';
  stats.timeOffset = '0';
  addCpuStats(stats, window);
  stats.displayInfo = vm.displays;
  if (vm.hash !== undefined) stats.hash = vm.hash;
  if (vm.pauseCode !== undefined) stats.pauseCode = vm.pauseCode;
  if (!window) return;
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
}

/** vdsm: cpuUsage is cumulative user+system ns; cpuUser/cpuSys are percent of one CPU over the last window. */
function addCpuStats(stats: Record<string, unknown>, window: SampleWindow | undefined): void {
  if (!window?.prev) {
    stats.cpuUser = '0.00';
    stats.cpuSys = '0.00';
    stats.cpuUsage = '0.00';
    stats.cpuActual = false;
    return;
  }
  const { prev, last } = window;
  const seconds = (last.at - prev.at) / 1000;
  const hasSplit = last.stats['cpu.user'] !== undefined;
  const sysNs = hasSplit ? num(last, 'cpu.user') - num(prev, 'cpu.user') + num(last, 'cpu.system') - num(prev, 'cpu.system') : 0;
  const totalNs = num(last, 'cpu.time') - num(prev, 'cpu.time');
  const pct = (ns: number) => (seconds > 0 ? Math.max(0, (100 * ns) / seconds / 1e9) : 0);
  stats.cpuUser = fixed2(pct(totalNs - sysNs));
  stats.cpuSys = fixed2(pct(sysNs));
  stats.cpuUsage = int(hasSplit ? num(last, 'cpu.user') + num(last, 'cpu.system') : num(last, 'cpu.time'));
  stats.cpuActual = true;
}

function indexes(sample: Sample, group: 'net' | 'block'): number[] {
  const count = Number(sample.stats[`${group}.count`] ?? 0);
  return Array.from({ length: count }, (_, i) => i);
}

function networkStats(vm: Vm, last: Sample): Record<string, unknown> {
  const out: Record<string, unknown> = {};
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

function diskStats(prev: Sample, last: Sample): Record<string, unknown> {
  const out: Record<string, unknown> = {};
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

function balloonInfo(vm: Vm, last: Sample): Record<string, unknown> | undefined {
  if (!vm.hasBalloon || last.stats['balloon.current'] === undefined) return undefined;
  return {
    balloon_max: int(vm.memSizeMiB * 1024),
    balloon_min: '0',
    balloon_cur: int(last.stats['balloon.current']),
    balloon_target: int(last.stats['balloon.current']),
    ballooning_enabled: true,
  };
}
