/**
 * A coordinator replica as an admin runs it: `node dist/cli/vdsm-ts-coordinator.js serve --config FILE`, its own
 * API port, its log (pino JSON lines) in a file that stays readable while it is frozen, stopped by its pid; and the
 * client commands of the same binary run against its API. In the netns bed it runs in a namespace of its own: its
 * CLI runs there too, and the harness calls its API through the porthole's unix socket. No vitest here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { ROOT } from '../support/paths.js';
import { closedPort } from '../support/ports.js';
import { killOnExit, stopProcess } from '../support/processes.js';
import { runCommand, type CommandResult } from '../support/run-command.js';
import { waitFor } from '../support/wait.js';

export const COORDINATOR_CLI = join(ROOT, 'dist/cli/vdsm-ts-coordinator.js');
/** Who the bed's admin commands are recorded as. */
export const ADMIN = 'bed-admin';

/** The [policy] section: the core's CoordinatorConfig fields (camelCase here, snake_case in the file). */
export type Policy = Record<string, number | boolean | string>;

export interface ReplicaSettings {
  name: string;
  dir: string;
  endpoints: string[];
  secretsDir: string;
  /** The coordinator's client certificate for the hosts (the engine's role) and the hosts' CA. */
  tls: { key: string; cert: string; ca: string };
  ttlSeconds: number;
  tickMs: number;
  policy: Policy;
  /** A machine of its own (netns bed): `ip netns exec NS`, and the porthole's socket to its API there. */
  place?: { wrap: string[]; socket: string };
}

/** The API's port on a machine of its own. */
export const API_PORT = 8080;

/** One HTTP request to the API, over TCP to `url` or over a unix socket; bounded by `timeoutMs`. */
function httpCall(
  to: { url: string } | { socket: string },
  method: 'GET' | 'POST',
  path: string,
  body: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const where =
      'socket' in to ? { socketPath: to.socket } : { host: new URL(to.url).hostname, port: new URL(to.url).port };
    const req = http.request(
      {
        ...where,
        path,
        method,
        headers:
          body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The INI file `serve --config` reads. */
export function replicaConfig(s: ReplicaSettings, port: number): string {
  return [
    '[api]',
    'listen = 127.0.0.1',
    `port = ${port}`,
    '',
    '[etcd]',
    `endpoints = ${s.endpoints.join(',')}`,
    'prefix = /vdsm-ts/coordinator/',
    '',
    '[coordinator]',
    `name = ${s.name}`,
    `ttl = ${s.ttlSeconds}`,
    `secrets_dir = ${s.secretsDir}`,
    `tick_ms = ${s.tickMs}`,
    '',
    '[hosts]',
    'tls = true',
    `key_file = ${s.tls.key}`,
    `cert_file = ${s.tls.cert}`,
    `ca_file = ${s.tls.ca}`,
    '',
    '[policy]',
    ...Object.entries(s.policy).map(([k, v]) => `${snake(k)} = ${String(v)}`),
    '',
  ].join('\n');
}

export interface AuditEntry {
  seq: number;
  time: string;
  host?: string;
  kind: string;
  guard?: string;
  alert: boolean;
  text: string;
}

export class Replica {
  readonly name: string;
  readonly configFile: string;
  readonly logFile: string;
  port = 0;
  private child: ChildProcess | undefined;
  private frozen = false;

  constructor(private readonly s: ReplicaSettings) {
    this.name = s.name;
    this.configFile = join(s.dir, `${s.name}.conf`);
    this.logFile = join(s.dir, `${s.name}.log`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.running() ? this.child!.pid : undefined;
  }

  running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  isFrozen(): boolean {
    return this.frozen && this.running();
  }

  private get to(): { url: string } | { socket: string } {
    return this.s.place ? { socket: this.s.place.socket } : { url: this.url };
  }

  /** `node ...args` here, or on its machine. */
  private argv(args: string[]): [string, string[]] {
    const wrap = this.s.place?.wrap ?? [];
    return wrap.length ? [wrap[0]!, [...wrap.slice(1), process.execPath, ...args]] : [process.execPath, args];
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = this.s.place ? API_PORT : await closedPort();
    writeFileSync(this.configFile, replicaConfig(this.s, this.port));
    const fd = openSync(this.logFile, 'a');
    try {
      this.child = spawn(...this.argv([COORDINATOR_CLI, 'serve', '--config', this.configFile]), {
        stdio: ['ignore', fd, fd],
        env: { PATH: process.env.PATH },
      });
    } finally {
      closeSync(fd);
    }
    killOnExit(this.child);
    await waitFor(
      `${this.name} to answer GET /health`,
      async () => {
        if (!this.running()) throw new Error(`${this.name} exited: ${this.logTail(2000)}`);
        return (await this.health()) ?? undefined;
      },
      30_000,
      250,
    );
  }

  freeze(): void {
    this.child?.kill('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    if (this.running()) this.child!.kill('SIGCONT');
    this.frozen = false;
  }

  /** SIGKILL: the process dies where it stands (its etcd lease runs out; nothing is released). */
  async kill(): Promise<void> {
    if (!this.running()) return;
    const gone = new Promise<void>((r) => this.child!.once('exit', () => r()));
    this.child!.kill('SIGKILL');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    this.frozen = false;
  }

  async stop(): Promise<void> {
    if (!this.running()) return;
    this.thaw();
    await stopProcess(this.child, 5000);
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(chars = 3000): string {
    return this.log().slice(-chars);
  }

  /** Its log, one parsed JSON line each (lines that are not JSON are skipped). */
  logLines(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.log().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* a line cut by a kill */
      }
    }
    return out;
  }

  private async getJson(path: string, timeoutMs = 3000): Promise<{ status: number; body: unknown } | undefined> {
    try {
      const res = await httpCall(this.to, 'GET', path, undefined, timeoutMs);
      return { status: res.status, body: JSON.parse(res.text) as unknown };
    } catch {
      return undefined;
    }
  }

  /** GET /health, or undefined when the API does not answer. */
  async health(): Promise<{ ok: boolean; role: string; epoch: number | null; etcd: boolean } | undefined> {
    return (await this.getJson('/health'))?.body as never;
  }

  /** GET path; throws unless 200. */
  async get<T = unknown>(path: string): Promise<T> {
    const r = await this.getJson(path, 10_000);
    if (!r) throw new Error(`${this.name}: GET ${path} got no answer`);
    if (r.status !== 200) throw new Error(`${this.name}: GET ${path} answered ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as T;
  }

  /** POST path with a JSON body; throws unless 2xx. */
  async post(path: string, body: Record<string, unknown>): Promise<unknown> {
    const { status, text } = await httpCall(this.to, 'POST', path, JSON.stringify(body), 30_000);
    if (status < 200 || status > 299) throw new Error(`${this.name}: POST ${path} answered ${status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  /** The audit trail (GET /events, the latest 1000). */
  events(): Promise<AuditEntry[]> {
    return this.get<AuditEntry[]>('/events?limit=1000');
  }

  /** Runs a client command of the same binary against this replica (bounded: 30 s). */
  cli(args: string[]): Promise<CommandResult> {
    return runCommand(...this.argv([COORDINATOR_CLI, ...args, '--url', this.url]), {
      env: { PATH: process.env.PATH, USER: ADMIN },
      timeoutMs: 30_000,
    });
  }

  /** The command line an admin types to run a client command against this replica (for the lab's printout). */
  commandLine(args: string[]): string {
    const [file, rest] = this.argv([COORDINATOR_CLI, ...args, '--url', this.url]);
    return [file, ...rest].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  }

  /** A client command that must succeed: its stdout. */
  async cliOk(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`vdsm-ts-coordinator ${args.join(' ')} → ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }
}
