/** Starting the built vdsmd as a real process: shared by tests and bench/, so no vitest here. */
import { type ChildProcess, spawn } from 'node:child_process';
import { VDSMD } from './paths.js';
import type { Pki } from './pki.js';
import { listeningTcpPort } from './ports.js';
import { stopProcess } from './processes.js';
import { rawCall } from './raw-stomp.js';
import { pollUntil, waitFor } from './wait.js';

export interface VdsmdProcess {
  port: number;
  pid: number;
  child: ChildProcess;
  /** Every log line vdsmd printed so far (stdout and stderr); with output 'drop', only those before it was ready. */
  output(): string;
  /** Waits (bounded) until the log matches `re`: log lines are flushed in batches, at least every 200 ms. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
  alive(): boolean;
  /** SIGTERM, SIGKILL after 5 s; the exit code, or null if it died of a signal or would not die. */
  stop(): Promise<number | null>;
}

export interface VdsmdStartOptions {
  pki?: Pki;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  readyLine?: 'vdsmd ready' | 'vdsmd listening; recovering';
  /**
   * 'ping' for a log level above info, where no ready line is printed: ready once it listens on a TCP port and
   * answers Host.ping2 (not "Recovering from crash or Initializing").
   */
  readyBy?: 'log' | 'ping';
  /** Default 15 s. */
  startTimeoutMs?: number;
  /**
   * 'drop' for a long busy run (a benchmark): once ready, its stdout is read and dropped, as journald would take
   * it, and its stderr goes to ours. Default 'keep': all of it stays in output().
   */
  output?: 'keep' | 'drop';
  /** An argv prefix that runs vdsmd elsewhere, e.g. `ip netns exec NS` (it execs, so the child is still vdsmd). */
  wrap?: string[];
}

/** Starts the built vdsmd as a real process on a free port and waits until it is ready. */
export async function startVdsmdProcess(options: VdsmdStartOptions = {}): Promise<VdsmdProcess> {
  const tlsArgs = options.pki
    ? [
        '--ssl',
        'true',
        '--ssl-key',
        options.pki.file('vdsm-key.pem'),
        '--ssl-cert',
        options.pki.file('vdsm.pem'),
        '--ssl-ca',
        options.pki.file('ca.pem'),
      ]
    : ['--ssl', 'false'];
  const wrap = options.wrap ?? [];
  const child = spawn(
    wrap[0] ?? process.execPath,
    [
      ...(wrap.length ? [...wrap.slice(1), process.execPath] : []),
      VDSMD,
      '--bind',
      '127.0.0.1',
      '--port',
      '0',
      ...tlsArgs,
      ...(options.args ?? []),
    ],
    {
      // libvirt's in-process test driver unless the test names another hypervisor.
      env: {
        PATH: process.env.PATH,
        VDSM_CONFIG: '/dev/null',
        VDSM_LIBVIRT_URI: 'test:///default',
        VDSM_HE_CONF: '/nonexistent/hosted-engine.conf',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let exited = false;
  let ready = false;
  const keep = options.output !== 'drop';
  child.stdout!.on('data', (d: Buffer) => {
    if (keep || !ready) out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (keep || !ready) out += d.toString();
    else process.stderr.write(d);
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => ((exited = true), resolve(code))));
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  let port: number;
  try {
    port =
      options.readyBy === 'ping'
        ? await answering(child, () => exited, startTimeoutMs)
        : await readyLine(child, () => out, exit, options.readyLine ?? 'vdsmd ready', startTimeoutMs);
  } catch (err) {
    // A start that fails must not leave its process behind.
    await stopProcess(child, 0);
    throw new Error(`${(err as Error).message}:\n${out}`, { cause: err });
  }
  ready = true;
  return {
    port,
    pid: child.pid!,
    child,
    output: () => out,
    waitForOutput: async (re, timeoutMs = 5000) => {
      await pollUntil(() => re.test(out), timeoutMs, 50);
      return out;
    },
    alive: () => !exited,
    stop: async () => {
      await stopProcess(child, 5000);
      return exited ? exit : null;
    },
  };
}

function readyLine(
  child: ChildProcess,
  out: () => string,
  exit: Promise<unknown>,
  line: string,
  timeoutMs: number,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('vdsmd did not become ready')), timeoutMs);
    const check = () => {
      const m = new RegExp(`"port":(\\d+)[^\\n]*"msg":"${line}"`).exec(out());
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exit.then(() => reject(new Error('vdsmd exited early')));
  });
}

async function answering(child: ChildProcess, exited: () => boolean, timeoutMs: number): Promise<number> {
  const ping = { jsonrpc: '2.0', id: 'ready', method: 'Host.ping2', params: {} };
  return waitFor(
    'vdsmd to answer Host.ping2',
    async () => {
      if (exited()) throw new Error('vdsmd exited early');
      const port = listeningTcpPort(child.pid!);
      return port !== undefined && (await rawCall(port, ping).catch(() => undefined))?.result === true
        ? port
        : undefined;
    },
    timeoutMs,
    200,
  );
}
