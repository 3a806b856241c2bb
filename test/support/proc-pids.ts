/**
 * Processes by pid, through /proc (shared by tests and bench/, no vitest here). A process is named by pid plus
 * start time, so that a pid the kernel has meanwhile reused for something else is never signalled.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { sleep } from './wait.js';

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

/** Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined (gone, or a zombie). */
export function startTimeOf(pid: number): number | undefined {
  const p = processRef(pid);
  return p && isRunning(p) ? Number(p.startTime) : undefined;
}

/** The pid runs and is not a zombie (and, if given, is still the process started at `startTime`). */
export function alive(pid: number | undefined, startTime?: number): pid is number {
  if (!pid || pid <= 0) return false;
  const t = startTimeOf(pid);
  return t !== undefined && (startTime === undefined || t === startTime);
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

/** Best effort by bare pid: no pid, or one already gone, is not an error. */
export function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
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

/** The processes behind `procs` now: a bare pid names the one it has at this moment (none if it is gone). */
function refsOf(procs: ReadonlyArray<number | ProcessRef>): ProcessRef[] {
  return procs.map((p) => (typeof p === 'number' ? processRef(p) : p)).filter((p): p is ProcessRef => p !== undefined);
}

/**
 * Resolves true once none of `procs` runs any more, false after `timeoutMs`. A bare pid names the process behind
 * it when the wait starts (one already gone counts as gone), so a pid reused meanwhile is not waited for.
 */
export async function waitGone(
  procs: ReadonlyArray<number | ProcessRef>,
  timeoutMs: number,
  everyMs = 50,
): Promise<boolean> {
  const refs = refsOf(procs);
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i <= Math.ceil(timeoutMs / everyMs); i++) {
    if (!refs.some(isRunning)) return true;
    if (Date.now() >= deadline) break;
    await sleep(everyMs);
  }
  return !refs.some(isRunning);
}

/** SIGTERM, then SIGKILL to whatever still runs after `graceMs`; true if all were gone within 2 s of that. */
export async function stopPids(
  procs: ReadonlyArray<number | ProcessRef>,
  graceMs: number,
  everyMs?: number,
): Promise<boolean> {
  const refs = refsOf(procs);
  for (const p of refs) signalProcess(p, 'SIGTERM');
  if (await waitGone(refs, graceMs, everyMs)) return true;
  for (const p of refs) signalProcess(p, 'SIGKILL');
  return waitGone(refs, 2000, everyMs);
}

/** SIGKILLs `procs` and waits (bounded) until they are gone; throws if one survives. */
export async function killAll(procs: ProcessRef[], timeoutMs = 5_000): Promise<void> {
  for (const p of procs) signalProcess(p, 'SIGKILL');
  if (!(await waitGone(procs, timeoutMs))) {
    throw new Error(
      `processes ${procs
        .filter(isRunning)
        .map((p) => p.pid)
        .join(', ')} survived SIGKILL for ${timeoutMs} ms`,
    );
  }
}
