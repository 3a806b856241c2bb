/**
 * The harness's way into a namespace of the netns bed: the root namespace cannot reach the test subnets (they are
 * blackholed there), so a small forwarder runs inside the namespace, from a unix socket in the bed's directory (the
 * file system is shared) to an address and port there. It is a process of that namespace: it dies with a host's
 * power and stops with its freeze, as a console on that machine would. No vitest here.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { alive } from '../support/proc-pids.js';
import { stopProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import type { BedNet } from './bed-net.js';

/** node -e: argv socket, address, port. Each connection gets its own TCP connection; either end closing ends both. */
const FORWARDER = `
const net = require('net');
const [path, host, port] = process.argv.slice(1);
try { require('fs').unlinkSync(path); } catch {}
net.createServer((c) => {
  const u = net.connect(Number(port), host);
  const end = () => { c.destroy(); u.destroy(); };
  c.on('error', end); u.on('error', end); c.on('close', end); u.on('close', end);
  c.pipe(u); u.pipe(c);
}).listen(path);
process.on('SIGTERM', () => process.exit(0));`;

export class Porthole {
  private child: ChildProcess | undefined;

  constructor(
    private readonly net: BedNet,
    readonly ns: string,
    /** The unix socket the harness connects to. */
    readonly path: string,
    private readonly address: string,
    private readonly port: number,
  ) {}

  get pid(): number | undefined {
    // by /proc, not by the exit event: a power-off's SIGKILL is seen at once
    return alive(this.child?.pid) ? this.child!.pid : undefined;
  }

  /** Starts the forwarder (a no-op while it runs) and waits until its socket exists. */
  async open(): Promise<void> {
    if (this.pid !== undefined) return;
    rmSync(this.path, { force: true });
    const child = this.net.spawnIn(this.ns, [
      process.execPath,
      '-e',
      FORWARDER,
      this.path,
      this.address,
      String(this.port),
    ]);
    this.child = child;
    await waitFor(
      `the porthole into ${this.ns} (${this.path})`,
      () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`porthole into ${this.ns} exited`);
        return existsSync(this.path);
      },
      15_000,
      50,
    );
  }

  async close(): Promise<void> {
    await stopProcess(this.child, 2000);
    rmSync(this.path, { force: true });
  }
}
