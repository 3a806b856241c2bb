/**
 * A coordinator replica as an admin runs it: `node dist/cli/vdsm-ts-coordinator.js serve --config FILE`, its own
 * API port, its log (pino JSON lines) in a file that stays readable while it is frozen, stopped by its pid; and the
 * client commands of the same binary run against its API. No vitest here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
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

  async start(): Promise<void> {
    if (this.port === 0) this.port = await closedPort();
    writeFileSync(this.configFile, replicaConfig(this.s, this.port));
    const fd = openSync(this.logFile, 'a');
    try {
      this.child = spawn(process.execPath, [COORDINATOR_CLI, 'serve', '--config', this.configFile], {
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
      const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: res.status, body: await res.json() };
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
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${this.name}: POST ${path} answered ${res.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  /** The audit trail (GET /events, the latest 1000). */
  events(): Promise<AuditEntry[]> {
    return this.get<AuditEntry[]>('/events?limit=1000');
  }

  /** Runs a client command of the same binary against this replica (bounded: 30 s). */
  cli(args: string[]): Promise<CommandResult> {
    return runCommand(process.execPath, [COORDINATOR_CLI, ...args, '--url', this.url], {
      env: { PATH: process.env.PATH, USER: ADMIN },
      timeoutMs: 30_000,
    });
  }

  /** A client command that must succeed: its stdout. */
  async cliOk(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`vdsm-ts-coordinator ${args.join(' ')} → ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }
}
