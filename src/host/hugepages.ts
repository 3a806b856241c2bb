import { listDir, readInt, readLine } from './read.js';

const HUGEPAGES = '/sys/kernel/mm/hugepages';
const COUNTERS = [
  'free_hugepages',
  'nr_hugepages',
  'nr_hugepages_mempolicy',
  'nr_overcommit_hugepages',
  'resv_hugepages',
  'surplus_hugepages',
] as const;

export type HugepageCounters = Record<(typeof COUNTERS)[number] | 'vm.free_hugepages', number>;

/** Hugepage sizes the kernel offers, in KiB. */
export async function hugepageSizes(): Promise<number[]> {
  return (await listDir(HUGEPAGES))
    .map((d) => /^hugepages-(\d+)kB$/.exec(d)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Per size (KiB): the kernel's counters plus `vm.free_hugepages`, the pages left for VMs. vdsm subtracts
 * its configured reserve there; ours is 0, so it equals free_hugepages.
 */
export async function hugepageState(): Promise<Record<string, HugepageCounters>> {
  const state: Record<string, HugepageCounters> = {};
  for (const size of await hugepageSizes()) {
    const dir = `${HUGEPAGES}/hugepages-${size}kB`;
    const entry = {} as HugepageCounters;
    for (const key of COUNTERS) entry[key] = (await readInt(`${dir}/${key}`)) ?? 0;
    entry['vm.free_hugepages'] = entry.free_hugepages;
    state[String(size)] = entry;
  }
  return state;
}

/** Transparent hugepage mode: the bracketed word of the sysfs file, "never" when unavailable. */
export async function thpState(): Promise<'always' | 'madvise' | 'never'> {
  for (const path of [
    '/sys/kernel/mm/transparent_hugepage/enabled',
    '/sys/kernel/mm/redhat_transparent_hugepage/enabled',
  ]) {
    const mode = /\[(\w+)\]/.exec((await readLine(path)) ?? '')?.[1];
    if (mode === 'always' || mode === 'madvise' || mode === 'never') return mode;
  }
  return 'never';
}
