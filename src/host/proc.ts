import os from 'node:os';
import { open } from 'node:fs/promises';
import { readText } from './read.js';

/** Jiffy counters of one /proc/stat cpu line; `user` folds in nice, as vdsm does. */
export interface CpuTimes {
  user: number;
  sys: number;
  idle: number;
  /** Sum of user, nice, system, idle, iowait, irq, softirq and steal (guest time is already in user). */
  total: number;
}

export interface ProcStat {
  total: CpuTimes;
  perCpu: Map<number, CpuTimes>;
  /** Epoch seconds from the `btime` line. */
  bootTime?: number;
}

export async function readProcStat(): Promise<ProcStat> {
  const text = await readText('/proc/stat');
  if (text === undefined) return procStatFromOs();
  const perCpu = new Map<number, CpuTimes>();
  let total: CpuTimes | undefined;
  let bootTime: number | undefined;
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.trim().split(/\s+/);
    if (key === 'cpu') total = cpuTimes(rest);
    else if (key?.startsWith('cpu')) perCpu.set(Number(key.slice(3)), cpuTimes(rest));
    else if (key === 'btime' && rest[0] !== undefined) bootTime = Number(rest[0]);
  }
  if (!total) return procStatFromOs();
  return { total, perCpu, bootTime };
}

function cpuTimes(fields: string[]): CpuTimes {
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields.map(Number);
  return { user: user + nice, sys: system, idle, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** Without /proc/stat (non-Linux test boxes), os.cpus() has the same counters in ms. */
function procStatFromOs(): ProcStat {
  const perCpu = new Map<number, CpuTimes>();
  const total: CpuTimes = { user: 0, sys: 0, idle: 0, total: 0 };
  os.cpus().forEach((cpu, i) => {
    const t = cpu.times;
    const times = { user: t.user + t.nice, sys: t.sys, idle: t.idle, total: t.user + t.nice + t.sys + t.idle + t.irq };
    perCpu.set(i, times);
    total.user += times.user;
    total.sys += times.sys;
    total.idle += times.idle;
    total.total += times.total;
  });
  return { total, perCpu };
}

/** /proc/meminfo as key -> kB (unitless lines such as HugePages_Total are counts). */
export async function readMeminfo(): Promise<Record<string, number>> {
  const text = await readText('/proc/meminfo');
  const info: Record<string, number> = {};
  for (const line of text?.split('\n') ?? []) {
    const m = /^([^:]+):\s+(\d+)/.exec(line);
    if (m) info[m[1]!] = Number(m[2]);
  }
  if (info.MemTotal === undefined) {
    info.MemTotal = Math.floor(os.totalmem() / 1024);
    info.MemFree ??= Math.floor(os.freemem() / 1024);
  }
  return info;
}

/** The three load averages (1, 5, 15 minutes). */
export async function readLoadavg(): Promise<[number, number, number]> {
  const fields = (await readText('/proc/loadavg'))?.trim().split(/\s+/).slice(0, 3).map(Number);
  if (fields?.length === 3 && fields.every(Number.isFinite)) return fields as [number, number, number];
  return os.loadavg() as [number, number, number];
}

/** Seconds since boot. */
export async function readUptime(): Promise<number> {
  const up = Number((await readText('/proc/uptime'))?.trim().split(/\s+/)[0]);
  return Number.isFinite(up) ? up : os.uptime();
}

export interface NetDevCounters {
  rxBytes: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txErrors: number;
  txDropped: number;
}

/** Per-interface counters from /proc/net/dev (empty when the file is missing). */
export async function readNetDev(): Promise<Map<string, NetDevCounters>> {
  const devs = new Map<string, NetDevCounters>();
  for (const line of (await readText('/proc/net/dev'))?.split('\n').slice(2) ?? []) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const n = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    devs.set(line.slice(0, colon).trim(), {
      rxBytes: n[0] ?? 0,
      rxErrors: n[2] ?? 0,
      rxDropped: n[3] ?? 0,
      txBytes: n[8] ?? 0,
      txErrors: n[10] ?? 0,
      txDropped: n[11] ?? 0,
    });
  }
  return devs;
}

export interface CpuInfo {
  model?: string;
  /** As the kernel prints it, e.g. "2596.134" (MHz). */
  mhz?: string;
  flags: string[];
  /** processor -> { physical id, core id } where the architecture reports them. */
  processors: Map<number, { socket?: number; core?: number }>;
}

/** The keys vdsm reads from /proc/cpuinfo on x86_64, aarch64, ppc64 and s390x. */
export async function readCpuinfo(): Promise<CpuInfo> {
  const info: CpuInfo = { flags: [], processors: new Map() };
  let current: { socket?: number; core?: number } | undefined;
  for (const line of (await readText('/proc/cpuinfo'))?.split('\n') ?? []) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'processor' && /^\d+$/.test(value)) {
      current = {};
      info.processors.set(Number(value), current);
    } else if (key === 'physical id' && current) current.socket = Number(value);
    else if (key === 'core id' && current) current.core = Number(value);
    else if ((key === 'flags' || key === 'Features' || key === 'features') && info.flags.length === 0)
      info.flags = value.split(/\s+/).filter(Boolean);
    else if ((key === 'model name' || key === 'CPU part' || key === 'cpu') && info.model === undefined)
      info.model = value;
    else if ((key === 'cpu MHz' || key === 'BogoMIPS' || key === 'cpu MHz dynamic') && info.mhz === undefined)
      info.mhz = value;
    else if (key === 'clock' && info.mhz === undefined) info.mhz = value.replace(/MHz$/, '');
  }
  return info;
}

/** The kernel command line, trimmed ("" when unreadable). */
export async function readCmdline(): Promise<string> {
  return (await readText('/proc/cmdline'))?.trim() ?? '';
}

let pageSize: Promise<number> | undefined;

/** The kernel page size in bytes (4096 on x86_64, often 65536 on ppc64 and some aarch64 kernels). */
export function pageSizeBytes(): Promise<number> {
  pageSize ??= (async () => {
    const kib = /KernelPageSize:\s+(\d+) kB/.exec((await readHead('/proc/self/smaps', 8192)) ?? '')?.[1];
    return kib ? Number(kib) * 1024 : 4096;
  })();
  return pageSize;
}

/** The first bytes of a file that may be large (smaps lists every mapping). */
async function readHead(path: string, bytes: number): Promise<string | undefined> {
  try {
    const handle = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(bytes), 0, bytes, 0);
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}
