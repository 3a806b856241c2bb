/** Loopback ports for peers and daemons a test starts (shared by tests and bench/, no vitest here). */
import dgram from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** A loopback TCP port with certainly no listener: bind one, note it, close it. */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A loopback UDP port with nothing bound to it: bind one, note it, close it. */
export function closedUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', (e) => {
      s.close();
      reject(e);
    });
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Socket inodes of every UDP (v4 and v6) socket whose local port is `port`. */
export function udpSocketInodes(port: number): string[] {
  const hex = ':' + port.toString(16).toUpperCase().padStart(4, '0');
  const inodes: string[] = [];
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[1]!.endsWith(hex)) inodes.push(cols[9]!);
    }
  }
  return inodes;
}

/** Socket inodes held open by process `pid`. */
function socketInodesOf(pid: number): Set<string> {
  const out = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) out.add(m[1]!);
      } catch {
        /* fd closed meanwhile */
      }
    }
  } catch {
    /* process gone */
  }
  return out;
}

/**
 * True when every UDP socket bound to `port` belongs to `pid` (and there is at least one).
 * Daemons that bind with SO_REUSEADDR can share a port with a stranger and lose packets
 * to it, so after start-up we make sure nobody else holds ours.
 */
export function portOwnedOnlyBy(port: number, pid: number): boolean {
  const held = udpSocketInodes(port);
  if (held.length === 0) return false;
  const mine = socketInodesOf(pid);
  return held.every((i) => mine.has(i));
}

/** A free UDP port that no socket (reuse-address ones included) currently holds. */
export async function freeUdpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await closedUdpPort();
    if (udpSocketInodes(port).length === 0) return port;
  }
  throw new Error('could not find a free UDP port on 127.0.0.1');
}

/** The port of a TCP (v4) socket that `pid` listens on, or undefined while it listens on none. */
export function listeningTcpPort(pid: number): number | undefined {
  const mine = socketInodesOf(pid);
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && mine.has(f[9]!)) return parseInt(f[1]!.split(':')[1]!, 16);
  }
  return undefined;
}
