import { readFileSync } from 'node:fs';
import { HaSimulator } from './simulator.js';

/**
 * A scenario folder holds `cmds` (one command a line: `hosts N`, `end T`, `at T <command…>`; `#` comments)
 * and `expected` (the event log). Returns the log, who runs the engine VM at the end, and around the first
 * `fault` command (`at T fault <command…>`): when the engine stopped being healthy in EngineUp, and when it was again.
 */
export function runScenario(dir: string): { log: string[]; runningAt: number; faultAt?: number; lost?: number; back?: number } {
  const sim = new HaSimulator();
  const commands: { at: number; words: string[] }[] = [];
  let end = 0;
  let faultAt: number | undefined;
  for (const raw of readFileSync(`${dir}/cmds`, 'utf8').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [verb, ...rest] = line.split(/\s+/);
    if (verb === 'hosts') for (let i = 1; i <= Number(rest[0]); i++) sim.addHost(i);
    else if (verb === 'end') end = Number(rest[0]);
    else if (verb === 'at') {
      let words = rest.slice(1);
      if (words[0] === 'fault') {
        words = words.slice(1);
        faultAt ??= Number(rest[0]);
      }
      commands.push({ at: Number(rest[0]), words });
    } else throw new Error(`${dir}/cmds: cannot read "${raw}"`);
  }
  const { log, runningAt } = sim.run(end, commands);
  log.push(`end: engine VM on ${runningAt ? `host${runningAt}` : 'no host'}`);
  return { log, runningAt, faultAt, ...(faultAt === undefined ? {} : sim.outage(faultAt)) };
}
