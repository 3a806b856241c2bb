import os from 'node:os';
import { readCpuinfo, readMeminfo } from './proc.js';
import { listDir, parseCpuList, readInt, readLine, readText } from './read.js';

const CPU = '/sys/devices/system/cpu';
const NODE = '/sys/devices/system/node';

/** One online logical CPU, as vdsm's cpuTopology entries describe it. */
export interface CpuUnit {
  cpu_id: number;
  numa_cell_id: number;
  socket_id: number;
  die_id: number;
  core_id: number;
}

export interface CpuTopology {
  sockets: number;
  cores: number;
  threads: number;
  online: number[];
  units: CpuUnit[];
}

export interface NumaNode {
  id: number;
  cpus: number[];
  /** Distances to every node, in node-id order. */
  distances: number[];
}

/** NUMA nodes from sysfs; a host (or container) without them is one node 0 holding every online CPU. */
export async function readNumaNodes(): Promise<NumaNode[]> {
  const ids = (await listDir(NODE))
    .map((d) => /^node(\d+)$/.exec(d)?.[1])
    .filter((id): id is string => id !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  if (ids.length === 0) return [{ id: 0, cpus: await onlineCpus(), distances: [10] }];
  return Promise.all(
    ids.map(async (id) => ({
      id,
      cpus: parseCpuList(await readLine(`${NODE}/node${id}/cpulist`)),
      distances: ((await readLine(`${NODE}/node${id}/distance`)) ?? '10').split(/\s+/).map(Number),
    })),
  );
}

/** A node's memory in KiB; node 0 of a host without NUMA sysfs is the whole machine. */
export async function readNodeMemory(id: number): Promise<{ totalKiB: number; freeKiB: number }> {
  const text = await readText(`${NODE}/node${id}/meminfo`);
  if (text === undefined) {
    const mem = await readMeminfo();
    return { totalKiB: mem.MemTotal ?? 0, freeKiB: mem.MemFree ?? 0 };
  }
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  return { totalKiB: field('MemTotal'), freeKiB: field('MemFree') };
}

/** Hugepage counters of one node: size in KiB -> { total, free }. */
export async function readNodeHugepages(id: number): Promise<Map<number, { total: number; free: number }>> {
  const dir = `${NODE}/node${id}/hugepages`;
  const pages = new Map<number, { total: number; free: number }>();
  for (const sub of await listDir(dir)) {
    const size = /^hugepages-(\d+)kB$/.exec(sub)?.[1];
    if (size === undefined) continue;
    pages.set(Number(size), {
      total: (await readInt(`${dir}/${sub}/nr_hugepages`)) ?? 0,
      free: (await readInt(`${dir}/${sub}/free_hugepages`)) ?? 0,
    });
  }
  return pages;
}

export async function onlineCpus(): Promise<number[]> {
  const fromSys = parseCpuList(await readLine(`${CPU}/online`));
  if (fromSys.length > 0) return fromSys;
  const fromCpuinfo = [...(await readCpuinfo()).processors.keys()].sort((a, b) => a - b);
  return fromCpuinfo.length > 0 ? fromCpuinfo : os.cpus().map((_, i) => i);
}

/**
 * Sockets, cores and threads over the online CPUs. Cores are counted as distinct thread-sibling sets, as
 * vdsm counts them from libvirt's capabilities.
 */
export async function readCpuTopology(nodes: NumaNode[]): Promise<CpuTopology> {
  const online = await onlineCpus();
  const cpuinfo = await readCpuinfo();
  const nodeOf = new Map<number, number>();
  for (const node of nodes) for (const cpu of node.cpus) nodeOf.set(cpu, node.id);
  const sockets = new Set<number>();
  const cores = new Set<string>();
  const units: CpuUnit[] = [];
  for (const cpu of online) {
    const dir = `${CPU}/cpu${cpu}/topology`;
    const fallback = cpuinfo.processors.get(cpu);
    const socket = (await readInt(`${dir}/physical_package_id`)) ?? fallback?.socket ?? 0;
    const die = Math.max(0, (await readInt(`${dir}/die_id`)) ?? 0);
    const core = (await readInt(`${dir}/core_id`)) ?? fallback?.core ?? cpu;
    const siblings = await readLine(`${dir}/thread_siblings_list`);
    sockets.add(socket);
    cores.add(siblings ?? `${socket}/${die}/${core}`);
    units.push({ cpu_id: cpu, numa_cell_id: nodeOf.get(cpu) ?? 0, socket_id: socket, die_id: die, core_id: core });
  }
  return { sockets: sockets.size, cores: cores.size, threads: online.length, online, units };
}
