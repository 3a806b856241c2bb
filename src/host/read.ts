import { readdir, readFile, readlink, stat } from 'node:fs/promises';

/**
 * Tolerant file access: hosts differ (containers lack /sys/class/dmi, VMs lack NUMA dirs, some files are
 * root-only), so a missing or unreadable file is "no value", never an exception.
 */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** First line, trimmed; undefined when absent or empty. */
export async function readLine(path: string): Promise<string | undefined> {
  const text = await readText(path);
  const line = text?.split('\n', 1)[0]?.trim();
  return line ? line : undefined;
}

export async function readInt(path: string): Promise<number | undefined> {
  const line = await readLine(path);
  if (line === undefined || !/^-?\d+$/.test(line)) return undefined;
  return Number(line);
}

export async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function linkTarget(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch {
    return undefined;
  }
}

/** Parses kernel cpu lists such as "0-3,8,10-11". */
export function parseCpuList(text: string | undefined): number[] {
  const cpus: number[] = [];
  for (const part of (text ?? '').trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}
