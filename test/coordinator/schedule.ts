/** Seeded random fault schedules for test/coordinator-random.test.ts, as the text of a `cmds` file. */
import { rng } from '../support/rng.js';

/** When every fault is undone, and how long after that every HA VM must run again. */
export const HEAL_AT = 450;
export const RECOVERY_BOUND = 450;

/** One schedule, as the text of a `cmds` file. */
export function schedule(seed: number): string {
  const rand = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const hosts = int(2, 5);
  const host = () => `host${int(1, hosts)}`;
  const lines = [`# seed ${seed}`, `replicas ${int(1, 2)}`, `hosts ${hosts}`];
  if (rand() < 0.3) lines.push('policy A all');
  const vms = int(2, 6);
  for (let i = 1; i <= vms; i++)
    lines.push(
      `vm vm${i} ${host()}${rand() < 0.7 ? ' ha' : ''} prio ${pick([0, 10, 50])} mem ${pick([1024, 2048, 4096])}${
        rand() < 0.1 ? ' stopped' : ''
      }`,
    );
  const faults = int(1, 3);
  for (let i = 0; i < faults; i++) {
    const at = int(15, 350);
    const kind = pick([
      'hang',
      'power-loss',
      'kill-vdsmd',
      'cut',
      'lose-answers',
      'isolate',
      'proxy-broken',
      'bmc-dead',
      'flap',
      'failover',
      'pause-leader',
      'etcd-down',
      'isolate-coordinator',
    ] as const);
    switch (kind) {
      case 'flap':
        lines.push(`at ${at} fault flap ${host()} ${pick([15, 30])}`);
        break;
      case 'failover':
        lines.push(`at ${at} fault failover`);
        break;
      case 'pause-leader':
        lines.push(`at ${at} fault pause-leader ${int(5, 20)}`);
        break;
      case 'etcd-down':
        lines.push(`at ${at} fault etcd-down`, `at ${Math.min(HEAL_AT, at + int(5, 90))} etcd-up`);
        break;
      case 'isolate-coordinator':
        lines.push(`at ${at} fault isolate-coordinator`, `at ${Math.min(HEAL_AT, at + int(5, 90))} heal-coordinator`);
        break;
      default:
        lines.push(`at ${at} fault ${kind} ${host()}`);
    }
  }
  // What a person does meanwhile: maintenance on and off again, a VM stopped (and maybe started again), a start.
  const ops = int(0, 2);
  for (let i = 0; i < ops; i++) {
    const at = int(15, 350);
    const later = () => Math.min(HEAL_AT, at + int(10, 200));
    const vm = `vm${int(1, vms)}`;
    switch (pick(['maintenance', 'vm-stop', 'vm-start'] as const)) {
      case 'maintenance': {
        const h = host();
        lines.push(
          `at ${at} maintenance ${h} on${rand() < 0.2 ? ' keep-vms' : ''}`,
          `at ${later()} maintenance ${h} off`,
        );
        break;
      }
      case 'vm-stop':
        lines.push(`at ${at} vm-stop ${vm}`);
        if (rand() < 0.7) lines.push(`at ${later()} vm-start ${vm}${rand() < 0.3 ? ` ${host()}` : ''}`);
        break;
      case 'vm-start':
        lines.push(`at ${at} vm-start ${vm}`);
        break;
    }
  }
  lines.push(`at ${HEAL_AT} heal-all`, `end ${HEAL_AT + RECOVERY_BOUND}`);
  return `${lines.join('\n')}\n`;
}
