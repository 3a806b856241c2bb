import { execFile } from 'node:child_process';
import { FenceError, type FenceOptions } from '../../src/plugins/fence/agent.js';
import { dialogue } from '../../src/plugins/fence/dialogue.js';
import { ms, num } from '../../src/plugins/fence/validate.js';

export interface IpmitoolResult {
  output: string;
  code: number;
}

/**
 * Runs ipmitool for one IPMI request. Secrets never reach its argv (ClusterLabs passes `-P <password>`, visible
 * in the process table): the password goes through IPMI_PASSWORD with `-E`, the Kg key through IPMI_KGKEY with
 * `-K`. No shell is involved. The child is killed after power_timeout, as upstream does.
 */
export class Ipmitool {
  private readonly base: string[];
  private readonly env: NodeJS.ProcessEnv;
  private readonly program: string;
  private readonly talk = dialogue();

  constructor(private readonly o: FenceOptions) {
    const args = ['-I', o.lanplus === true ? 'lanplus' : 'lan', '-H', String(o.ipaddr)];
    if (o.ipport) args.push('-p', String(o.ipport));
    if (o.target) args.push('-t', String(o.target));
    if (o.login) args.push('-U', String(o.login));
    if (o.auth) args.push('-A', String(o.auth).toUpperCase());
    args.push('-E');
    if (o.cipher) args.push('-C', String(o.cipher));
    args.push('-L', String(o.privlvl ?? 'administrator').toUpperCase());
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LANG: 'C',
      LC_ALL: 'C',
      IPMI_PASSWORD: String(o.passwd ?? ''),
    };
    if (o.hexadecimal_kg) {
      const kg = Buffer.from(String(o.hexadecimal_kg), 'hex');
      if (kg.length === 0 || kg.includes(0))
        throw new FenceError('Failed: hexadecimal_kg must be non-empty hex without zero bytes');
      env.IPMI_KGKEY = kg.toString('latin1');
      args.push('-K');
    }
    args.push('-N', String(o.ipmitool_timeout ?? '2'));
    const verbose = num(o, 'verbose_level');
    if (verbose > 1) args.push('-' + 'v'.repeat(verbose - 1));
    this.env = env;
    this.program =
      o.sudo === true ? String(o.sudo_path ?? '/usr/bin/sudo') : String(o.ipmitool_path ?? '/usr/bin/ipmitool');
    this.base = o.sudo === true ? ['-E', String(o.ipmitool_path ?? '/usr/bin/ipmitool'), ...args] : args;
  }

  run(...command: string[]): Promise<IpmitoolResult> {
    const timeoutMs = ms(this.o, 'power_timeout');
    // The argv holds no secret (the password and Kg key travel in the environment), so it is logged whole.
    this.talk.note(`Executing: ${[this.program, ...this.base, ...command].join(' ')}`);
    return new Promise((resolve, reject) => {
      execFile(
        this.program,
        [...this.base, ...command],
        { env: this.env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 },
        (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
          if (e?.code === 'ENOENT' || e?.code === 'EACCES')
            return reject(new FenceError('Failed: Ipmitool not found or not accessible'));
          if (e?.killed) return reject(new FenceError('Connection timed out'));
          this.talk.received(`${typeof e?.code === 'number' ? e.code : 0} ${stdout}${stderr}`);
          resolve({ output: `${stdout}${stderr}`, code: typeof e?.code === 'number' ? e.code : 0 });
        },
      );
    });
  }
}
