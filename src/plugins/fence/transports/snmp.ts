import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import { FenceError, type FenceOptions } from '../agent.js';
import { dialogue } from '../dialogue.js';
import { num } from '../validate.js';

export interface Varbind {
  oid: string;
  /** Integers as numbers, strings and OIDs as text. */
  value: number | string;
}

/** The part of the untyped `net-snmp` package we use. */
interface RawVarbind {
  oid: string;
  type: number;
  value: unknown;
}
type Callback<T> = (error: Error | null, result: T) => void;
interface RawSession {
  get(oids: string[], cb: Callback<RawVarbind[]>): void;
  set(varbinds: RawVarbind[], cb: Callback<RawVarbind[]>): void;
  subtree(
    oid: string,
    maxRepetitions: number,
    feed: (vbs: RawVarbind[]) => boolean | void,
    done: (error: Error | null) => void,
  ): void;
  close(): void;
  on(event: 'error', cb: (e: Error) => void): void;
}
interface SessionOptions {
  port: number;
  retries: number;
  timeout: number;
  transport: 'udp4' | 'udp6';
  version?: number;
}
interface NetSnmp {
  Version1: number;
  Version2c: number;
  ObjectType: { Integer: number; OctetString: number; OID: number };
  SecurityLevel: Record<'noAuthNoPriv' | 'authNoPriv' | 'authPriv', number>;
  AuthProtocols: Record<'md5' | 'sha', number>;
  PrivProtocols: Record<'des' | 'aes', number>;
  createSession(target: string, community: string, options: SessionOptions): RawSession;
  createV3Session(target: string, user: Record<string, unknown>, options: SessionOptions): RawSession;
  isVarbindError(vb: RawVarbind): boolean;
  varbindError(vb: RawVarbind): string;
}
const snmp = createRequire(import.meta.url)('net-snmp') as NetSnmp;

/** net-snmp's command-line defaults, which upstream's snmpget/snmpset/snmpwalk run with: 1 s, 5 retries. */
const ATTEMPT_MS = 1000;
const SNMPGET_ATTEMPTS = 6;

/**
 * Requests each of one SNMP request: upstream runs snmpget (its 6 attempts a second apart) and kills it after
 * shell_timeout + login_timeout seconds, so a request is sent at most that many times, 6 at most; with timeouts
 * disabled (0) snmpget's own 6 remain.
 */
export function snmpAttempts(o: FenceOptions): number {
  const budget = num(o, 'shell_timeout') + num(o, 'login_timeout');
  return budget > 0 ? Math.max(1, Math.min(SNMPGET_ATTEMPTS, Math.ceil(budget))) : SNMPGET_ATTEMPTS;
}

/**
 * One SNMP session over UDP for an agent run, built from the framework's options: version 1/2c with
 * community, or 3 with username/password (auth) and snmp_priv_passwd (privacy). Each request is sent as often
 * as upstream's snmpget would send it (`snmpAttempts`), a second apart. Nothing is spawned: no community or key
 * ever appears in a process table.
 */
export class SnmpSession {
  private readonly session: RawSession;
  private readonly talk = dialogue();
  constructor(o: FenceOptions) {
    const version = String(o.snmp_version ?? '1');
    const host = String(o.ipaddr);
    const options: SessionOptions = {
      port: Number(o.ipport ?? 161),
      retries: snmpAttempts(o) - 1,
      timeout: ATTEMPT_MS,
      transport: isIPv6(host.replace(/^\[|\]$/g, '')) ? 'udp6' : 'udp4',
    };
    const target = host.replace(/^\[|\]$/g, '');
    this.talk.note(`SNMP v${version} to ${target}:${options.port}, ${options.retries + 1} attempt(s) per request`);
    if (version === '3') {
      this.session = snmp.createV3Session(target, this.user(o), options);
    } else {
      options.version = version === '2c' ? snmp.Version2c : snmp.Version1;
      this.session = snmp.createSession(target, String(o.community ?? 'private'), options);
    }
    this.session.on('error', () => undefined);
  }

  /** The USM user, filled in as upstream does: a privacy password with a password and no level means authPriv. */
  private user(o: FenceOptions): Record<string, unknown> {
    const given = (k: string) => typeof o[k] === 'string' && o[k] !== '';
    let level = String(o.snmp_sec_level ?? '');
    if (!level)
      level =
        given('snmp_priv_passwd') && given('passwd') ? 'authPriv' : given('passwd') ? 'authNoPriv' : 'noAuthNoPriv';
    const user: Record<string, unknown> = {
      name: String(o.login ?? ''),
      level: snmp.SecurityLevel[level as 'authPriv'],
    };
    if (level !== 'noAuthNoPriv') {
      user.authProtocol =
        String(o.snmp_auth_prot ?? 'MD5').toUpperCase() === 'SHA' ? snmp.AuthProtocols.sha : snmp.AuthProtocols.md5;
      user.authKey = String(o.passwd ?? '');
    }
    if (level === 'authPriv') {
      user.privProtocol =
        String(o.snmp_priv_prot ?? 'DES').toUpperCase() === 'AES' ? snmp.PrivProtocols.aes : snmp.PrivProtocols.des;
      user.privKey = String(o.snmp_priv_passwd ?? '');
    }
    return user;
  }

  async get(oids: string[]): Promise<(Varbind | null)[]> {
    this.talk.sent(`get ${oids.join(' ')}`);
    const vbs = await this.call<RawVarbind[]>((cb) => this.session.get(oids, cb));
    this.talk.received(vbs.map(show).join('\n'));
    return vbs.map((vb) => (snmp.isVarbindError(vb) ? null : convert(vb)));
  }

  async setInteger(oid: string, value: number): Promise<void> {
    this.talk.sent(`set ${oid} i ${value}`);
    const vbs = await this.call<RawVarbind[]>((cb) =>
      this.session.set([{ oid, type: snmp.ObjectType.Integer, value }], cb),
    );
    this.talk.received(vbs.map(show).join('\n'));
    for (const vb of vbs)
      if (snmp.isVarbindError(vb)) throw new FenceError(`Failed: SNMP set ${oid}: ${snmp.varbindError(vb)}`);
  }

  /** Every varbind under `oid`, in order (each request of the walk gets the whole budget). */
  async walk(oid: string): Promise<Varbind[]> {
    const out: Varbind[] = [];
    this.talk.sent(`walk ${oid}`);
    await this.call<void>((cb) =>
      this.session.subtree(
        oid,
        20,
        (vbs) => void vbs.forEach((vb) => snmp.isVarbindError(vb) || out.push(convert(vb))),
        (e) => cb(e, undefined),
      ),
    );
    this.talk.received(out.map((vb) => `${vb.oid} ${vb.value}`).join('\n'));
    return out;
  }

  close(): void {
    this.session.close();
  }

  private call<T>(run: (cb: Callback<T>) => void): Promise<T> {
    return new Promise((resolve, reject) =>
      run((error, result) => {
        if (!error) return resolve(result);
        this.talk.received(`[${error.message}]`);
        reject(new FenceError(`Failed: SNMP request failed: ${error.message}`));
      }),
    );
  }
}

/** One varbind as the log shows it: `oid value`, or `oid [error]`. */
function show(vb: RawVarbind): string {
  return `${vb.oid} ${snmp.isVarbindError(vb) ? `[${snmp.varbindError(vb)}]` : convert(vb).value}`;
}

function convert(vb: RawVarbind): Varbind {
  const v = vb.value;
  return { oid: vb.oid, value: typeof v === 'number' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v) };
}
