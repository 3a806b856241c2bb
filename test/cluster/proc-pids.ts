/**
 * Processes by pid, through /proc. A process is named by pid plus start time, so that a pid the
 * kernel has meanwhile reused for something else is never signalled.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcessRef {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot). */
  startTime: string;
}

interface ProcStat {
  ppid: number;
  state: string;
  startTime: string;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ..." - comm may hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, ppid: Number(fields[1]), startTime };
}

export function processRef(pid: number): ProcessRef | undefined {
  const st = readStat(pid);
  return st && { pid, startTime: st.startTime };
}

/** Still the same process and not a zombie (a zombie is dead; its reaper may be slow). */
export function isRunning(p: ProcessRef): boolean {
  const st = readStat(p.pid);
  return st !== undefined && st.startTime === p.startTime && st.state !== 'Z' && st.state !== 'X';
}

export function childrenOf(p: ProcessRef): ProcessRef[] {
  if (!isRunning(p)) return [];
  const kids: ProcessRef[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st?.ppid === p.pid) kids.push({ pid: Number(name), startTime: st.startTime });
  }
  return kids;
}

/** Signals the process if it is still the one named; a vanished process is not an error. */
export function signalProcess(p: ProcessRef, signal: NodeJS.Signals): void {
  if (!isRunning(p)) return;
  try {
    process.kill(p.pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Resolves true once none of `procs` runs any more, false after `timeoutMs`. */
export async function waitGone(procs: ProcessRef[], timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i <= Math.ceil(timeoutMs / everyMs); i++) {
    if (!procs.some(isRunning)) return true;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return !procs.some(isRunning);
}

/** SIGKILLs `procs` and waits (bounded) until they are gone; throws if one survives. */
export async function killAll(procs: ProcessRef[], timeoutMs = 5_000): Promise<void> {
  for (const p of procs) signalProcess(p, 'SIGKILL');
  if (!(await waitGone(procs, timeoutMs))) {
    throw new Error(`processes ${procs.filter(isRunning).map((p) => p.pid).join(', ')} survived SIGKILL for ${timeoutMs} ms`);
  }
}
