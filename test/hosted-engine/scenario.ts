import { readFileSync } from 'node:fs';
import { HaSimulator } from './simulator.js';

export interface ScenarioRun {
  log: string[];
  runningAt: number;
  /** The scenario says (`relies-on-lease`) that only the lease keeps the engine VM from running twice in it. */
  reliesOnLease: boolean;
  faultAt?: number;
  lost?: number;
  back?: number;
}

/**
 * A scenario folder holds `cmds` (one command a line: `hosts N`, `end T`, `at T <command…>`, `relies-on-lease`;
 * `#` comments) and `expected` (the event log). Returns the log, who runs the engine VM at the end, and around
 * the first `fault` command (`at T fault <command…>`): when the engine stopped being healthy in EngineUp, and
 * when it was again.
 */
export async function runScenario(dir: string, opts: { arbitration?: boolean } = {}): Promise<ScenarioRun> {
  const text = readFileSync(`${dir}/cmds`, 'utf8');
  const commands: { at: number; words: string[] }[] = [];
  let end = 0;
  let faultAt: number | undefined;
  let reliesOnLease = false;
  const lines = text.split('\n');
  // Arbitration off from the first fault: every start race before it (the hosts' first start) is the startup
  // scenario's business, so the other scenarios show what their own fault needs from the lease.
  const firstFault = lines.map((l) => /^\s*at\s+(\d+)\s+fault\b/.exec(l)?.[1]).find((t) => t !== undefined);
  const sim = new HaSimulator(
    undefined,
    opts.arbitration === false ? { noArbitrationFrom: Number(firstFault ?? 0) } : {},
  );
  for (const raw of lines) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [verb, ...rest] = line.split(/\s+/);
    if (verb === 'hosts') for (let i = 1; i <= Number(rest[0]); i++) sim.addHost(i);
    else if (verb === 'end') end = Number(rest[0]);
    else if (verb === 'relies-on-lease') reliesOnLease = true;
    else if (verb === 'at') {
      let words = rest.slice(1);
      if (words[0] === 'fault') {
        words = words.slice(1);
        faultAt ??= Number(rest[0]);
      }
      commands.push({ at: Number(rest[0]), words });
    } else throw new Error(`${dir}/cmds: cannot read "${raw}"`);
  }
  const { log, runningAt } = await sim.run(end, commands);
  log.push(`end: engine VM on ${runningAt ? `host${runningAt}` : 'no host'}`);
  return { log, runningAt, reliesOnLease, faultAt, ...(faultAt === undefined ? {} : sim.outage(faultAt)) };
}
