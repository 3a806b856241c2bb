import { pageSizeBytes, readMeminfo } from './proc.js';
import { readInt } from './read.js';

/** Memory figures in MiB (integers), computed the way vdsm computes them. */
export interface MemoryFigures {
  totalMiB: number;
  /** MemFree + Cached + Buffers + SReclaimable: what the host could hand to VMs. */
  freeMiB: number;
  /** 100 - free share, as an integer percent. */
  usedPercent: number;
  swapTotalMiB: number;
  swapFreeMiB: number;
  anonHugePagesMiB: number;
  /** Memory deduplicated by KSM (pages_sharing), 0 without KSM. */
  sharedMiB: number;
}

export async function readMemoryFigures(): Promise<MemoryFigures> {
  const m = await readMeminfo();
  const kib = (key: string) => m[key] ?? 0;
  const freeOrCachedKiB = kib('MemFree') + kib('Cached') + kib('Buffers') + kib('SReclaimable');
  const total = kib('MemTotal');
  const sharingPages = (await readInt('/sys/kernel/mm/ksm/pages_sharing')) ?? 0;
  return {
    totalMiB: Math.floor(total / 1024),
    freeMiB: Math.floor(freeOrCachedKiB / 1024),
    usedPercent: total > 0 ? 100 - Math.trunc((100 * freeOrCachedKiB) / total) : 0,
    swapTotalMiB: Math.floor(kib('SwapTotal') / 1024),
    swapFreeMiB: Math.floor(kib('SwapFree') / 1024),
    anonHugePagesMiB: Math.floor(kib('AnonHugePages') / 1024),
    sharedMiB: Math.floor((sharingPages * (await pageSizeBytes())) / 2 ** 20),
  };
}
