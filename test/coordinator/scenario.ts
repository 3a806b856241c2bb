import { readFileSync } from 'node:fs';
import { DEFAULT_COORDINATOR_CONFIG, type CoordinatorConfig } from '../../src/coordinator/core/config.js';
import { CoordSimulator } from './simulator.js';

export interface CoordScenarioRun {
  log: string[];
  violations: string[];
  sim: CoordSimulator;
}

/**
 * A scenario folder holds `cmds` and `expected` (the event log). `cmds`, one command a line (`#` comments):
 * `hosts N` (host1..hostN in cluster A, one fence agent each, 16 GiB),
 * `host ID CLUSTER [no-pm] [agents a:1,b:1] [mem MiB] [he]` (`he`: hosted-engine HA configured there),
 * `vm ID HOST [ha] [prio P] [mem MiB] [stopped|error|error-ever-up]`, `policy CLUSTER all|ha-only`,
 * `replicas N` (c1..cN; default 1), `when off-sent|vm-create|vm-shutdown COMMAND…` (once, at that moment),
 * `at T [fault] COMMAND…`, `end T`. The world's commands and the operator's are CoordSimulator.command's:
 * `maintenance HOST on|off [keep-vms]`, `host-add ID [CLUSTER] [no-pm] [he] [dead]`, `host-remove ID`,
 * `vm-define ID [ha] [prio P] [mem MiB]`, `vm-start ID [HOST]`, `vm-stop ID`, `vm-remove ID`, `confirm HOST`.
 */
export async function runCoordScenario(dir: string): Promise<CoordScenarioRun> {
  return runCoordCmds(readFileSync(`${dir}/cmds`, 'utf8'), dir);
}

/** The same from the text of a `cmds` file (the randomized test prints its schedules in this form). */
export async function runCoordCmds(
  text: string,
  where = 'cmds',
  opts: { quiet?: boolean } = {},
): Promise<CoordScenarioRun> {
  const dir = where;
  const policies: Record<string, 'all' | 'ha-only'> = {};
  const lines = text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  for (const line of lines) {
    const [verb, cluster, p] = line.split(/\s+/);
    if (verb === 'policy') policies[cluster!] = p === 'all' ? 'all' : 'ha-only';
  }
  const cfg: CoordinatorConfig = { ...DEFAULT_COORDINATOR_CONFIG, evacuation: policies };
  const sim = new CoordSimulator({ cfg, ...opts });
  let end = 0;
  let replicas = 1;
  const commands: { at: number; words: string[] }[] = [];
  for (const line of lines) {
    const [verb, ...rest] = line.split(/\s+/);
    switch (verb) {
      case 'hosts':
        for (let i = 1; i <= Number(rest[0]); i++) sim.addHost(`host${i}`);
        break;
      case 'host': {
        const agents = rest.indexOf('agents');
        sim.addHost(rest[0]!, rest[1] ?? 'A', {
          pm: !rest.includes('no-pm'),
          he: rest.includes('he'),
          ...(rest.includes('mem') ? { memMiB: Number(rest[rest.indexOf('mem') + 1]) } : {}),
          ...(agents >= 0
            ? {
                agents: rest[agents + 1]!.split(',').map((a) => {
                  const [name, order] = a.split(':');
                  return { name: name!, order: Number(order ?? 1) };
                }),
              }
            : {}),
        });
        break;
      }
      case 'vm': {
        const num = (k: string) => (rest.includes(k) ? Number(rest[rest.indexOf(k) + 1]) : undefined);
        const state = rest.find((w) => ['stopped', 'error', 'error-ever-up'].includes(w));
        sim.addVm(rest[0]!, rest[1]!, {
          ha: rest.includes('ha'),
          ...(num('prio') !== undefined ? { priority: num('prio') } : {}),
          ...(num('mem') !== undefined ? { memMiB: num('mem') } : {}),
          ...(state ? { state } : {}),
        });
        break;
      }
      case 'policy':
        break;
      case 'replicas':
        replicas = Number(rest[0]);
        break;
      case 'when':
        sim.when(rest[0]!, rest.slice(1));
        break;
      case 'at': {
        const words = rest.slice(1);
        commands.push({ at: Number(rest[0]), words: words[0] === 'fault' ? words.slice(1) : words });
        break;
      }
      case 'end':
        end = Number(rest[0]);
        break;
      default:
        throw new Error(`${dir}/cmds: cannot read "${line}"`);
    }
  }
  for (let i = 1; i <= replicas; i++) sim.addReplica(`c${i}`);
  await sim.run(end, commands);
  const log = [...sim.log];
  const placement = sim.placement();
  log.push(
    `end: ${
      Object.keys(sim.vms)
        .sort()
        .map((vm) => `${vm} on ${placement[vm]?.join('+') ?? 'none'} (${sim.vms[vm]!.state})`)
        .join(', ') || 'no VMs'
    }`,
  );
  log.push(`end: power actions ${sim.powerActions.map((p) => `${p.op} ${p.host} at ${p.t}`).join(', ') || 'none'}`);
  log.push(`end: invariants ${sim.violations.length === 0 ? 'held' : `BROKEN: ${sim.violations.join('; ')}`}`);
  return { log, violations: sim.violations, sim };
}
