/**
 * When things happened in a scenario, from the coordinators' decision logs and audit trails (the leader writes both)
 * and from the bed's sampler: the first line matching each milestone after the fault, printed as seconds after it.
 * Figures for the report only: no test asserts on them. No vitest here.
 */
import type { Bed } from './bed.js';

export interface Mark {
  what: string;
  /** Wall-clock ms (Date.now()), or undefined when not seen. */
  at?: number;
  where?: string;
}

interface Line {
  at: number;
  where: string;
  text: string;
}

/** Every log line and audit event of every replica, with its wall-clock time, oldest first. */
export async function coordinatorLines(bed: Bed): Promise<Line[]> {
  const lines: Line[] = [];
  for (const r of bed.replicas) {
    for (const l of r.logLines()) {
      const at = typeof l.time === 'number' ? l.time : Date.parse(String(l.time));
      if (Number.isFinite(at)) lines.push({ at, where: `${r.name} log`, text: JSON.stringify(l) });
    }
  }
  for (const [name, events] of await bed.auditTrails())
    for (const e of events) lines.push({ at: Date.parse(e.time), where: `${name} audit`, text: JSON.stringify(e) });
  return lines.sort((a, b) => a.at - b.at);
}

export function firstMatch(lines: Line[], re: RegExp, after: number): Mark | undefined {
  const l = lines.find((x) => x.at >= after && re.test(x.text));
  return l ? { what: re.source, at: l.at, where: l.where } : undefined;
}

export function lastMatch(lines: Line[], re: RegExp, after: number): Mark | undefined {
  const l = [...lines].reverse().find((x) => x.at >= after && re.test(x.text));
  return l ? { what: re.source, at: l.at, where: l.where } : undefined;
}

/**
 * The usual milestones of a fenced host: its last good poll (the NonResponsive decision says how long before it the
 * host last answered), NonResponsive, soft fence, OFF, VM.create, VM Up, and (QEMU guests) the restarted guests
 * answering on their consoles.
 */
export async function fenceTimeline(
  bed: Bed,
  host: string,
  t0: number,
  vms: string[] = [],
): Promise<Record<string, Mark | undefined>> {
  const lines = await coordinatorLines(bed);
  const h = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const nonResponsive = firstMatch(lines, new RegExp(`${h}[^"]*-> ?NonResponsive`), t0);
  const marks: Record<string, Mark | undefined> = {
    'last good poll': lastGoodPoll(lines, h, t0),
    NonResponsive: nonResponsive,
    'soft fence started': firstMatch(lines, new RegExp(`${h}: soft fence: SSH`), t0),
    'soft fence done': firstMatch(lines, new RegExp(`${h}(: soft fence worked| SoftFencing -> Up)`), t0),
    'to hard fence': firstMatch(lines, new RegExp(`${h} SoftFencing -> HardFencing`), t0),
    'off sent': firstMatch(lines, new RegExp(`${h}: power off through`), t0),
    'OFF confirmed': firstMatch(lines, new RegExp(`${h} \\w+ -> PowerOffConfirmed`), t0),
    'first VM.create': firstMatch(lines, /VM\.create on/, t0),
    'last VM.create': lastMatch(lines, /VM\.create on/, t0),
  };
  const ups = vms
    .map((id) => bed.sampler.firstUp(id, t0, [host]))
    .filter((x): x is { at: number; host: string } => x !== undefined);
  if (ups.length) {
    marks['first VM Up (sampler)'] = { what: 'sampler', at: Math.min(...ups.map((u) => u.at)), where: 'sampler' };
    marks['last VM Up (sampler)'] = { what: 'sampler', at: Math.max(...ups.map((u) => u.at)), where: 'sampler' };
  }
  const answers = vms.map((id) => bed.sampler.firstAnswer(id, t0)).filter((a) => a !== undefined);
  if (answers.length)
    marks['last guest answers'] = {
      what: 'console',
      at: Math.max(...answers.map((a) => a.at)),
      where: `sampler, ${answers.length}/${vms.length} consoles`,
    };
  return marks;
}

/** The coordinator's last answered poll of `host`: its NonResponsive decision's time less the silence it states. */
function lastGoodPoll(lines: Line[], host: string, t0: number): Mark | undefined {
  const re = new RegExp(`${host}[^"]*-> ?NonResponsive[^"]*?([\\d.]+) s without an answer`);
  const line = lines.find((x) => x.at >= t0 && re.test(x.text));
  const silent = line && re.exec(line.text)?.[1];
  return silent === undefined
    ? undefined
    : { what: 'lastOk', at: line!.at - Number(silent) * 1000, where: line!.where };
}

const since = (ms: number) => `t0 ${ms < 0 ? '−' : '+'} ${(Math.abs(ms) / 1000).toFixed(1)} s`;

export function printTimeline(title: string, t0: number, marks: Record<string, Mark | undefined>): string {
  const rows = Object.entries(marks).map(
    ([k, m]) => `  ${k.padEnd(24)} ${m?.at === undefined ? '—' : since(m.at - t0)}${m?.where ? ` (${m.where})` : ''}`,
  );
  const text = [`${title}: t0 (fault) = ${new Date(t0).toISOString()}`, ...rows].join('\n');
  console.log(text);
  return text;
}
