/**
 * bench/rpc: Host.ping2 over vdsmd's real STOMP path, server in its own process (one core), client here.
 *   npm run bench:rpc [-- --seconds 3]
 * Prints round-trip latency (p50/p99, one request in flight per connection), pipelined throughput (req/s,
 * a window of requests in flight per connection) over plaintext and TLS with 1 and 64 connections, and the
 * server's peak RSS. The first row is the floor: a bare Node echo server in its own process, measured by the same
 * client, so latency reads against what two Node processes on this machine can do at all.
 * Run it as `taskset -c 0 npm run bench:rpc` to put server and client on one core (the cross-core wake-up, which
 * dominates the round trip on small VMs, then disappears; throughput then shares one core). Figures only.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { makePki, type Pki } from '../test/support/pki.js';
import { stopProcess } from '../test/support/processes.js';
import { startVdsmdProcess } from '../test/support/vdsmd-start.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, 'log-level': { type: 'string', default: 'info' } },
});
const SECONDS = Number(values.seconds);

const BODY = '{"jsonrpc":"2.0","id":"b","method":"Host.ping2","params":{}}';
const FRAME = Buffer.from(
  `SEND\ndestination:jms.topic.vdsm_requests\nreply-to:r\ncontent-length:${BODY.length}\n\n${BODY}\0`,
);

function connect(port: number, pki: Pki | null): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s: net.Socket = pki
      ? tls.connect(
          {
            host: '127.0.0.1',
            port,
            key: readFileSync(pki.file('engine-key.pem')),
            cert: readFileSync(pki.file('engine.pem')),
            ca: readFileSync(pki.file('ca.pem')),
            checkServerIdentity: () => undefined,
          },
          () => resolve(s),
        )
      : net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  });
}

/** A connection ready for requests: CONNECTED received and subscribed to the reply queue. */
async function open(port: number, pki: Pki | null): Promise<net.Socket> {
  const s = await connect(port, pki);
  s.write('CONNECT\naccept-version:1.2\n\n\0SUBSCRIBE\ndestination:r\nid:s\nreceipt:ok\n\n\0');
  await new Promise<void>((resolve) => {
    let seen = '';
    const on = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('RECEIPT')) {
        s.off('data', on);
        resolve();
      }
    };
    s.on('data', on);
  });
  return s;
}

/** Each reply frame ends with one NUL (heart-beats are EOLs), so counting NULs counts replies cheaply. */
function countNul(d: Buffer): number {
  let n = 0;
  for (let i = d.indexOf(0); i >= 0; i = d.indexOf(0, i + 1)) n++;
  return n;
}

async function latency(
  port: number,
  pki: Pki | null,
  conns: number,
): Promise<{ p50: number; p99: number; rate: number }> {
  const sockets = await Promise.all(Array.from({ length: conns }, () => open(port, pki)));
  const samples: number[] = [];
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          let t0 = process.hrtime.bigint();
          s.on('data', (d: Buffer) => {
            if (countNul(d) === 0) return;
            samples.push(Number(process.hrtime.bigint() - t0) / 1000);
            if (Date.now() > deadline || samples.length > 2_000_000) return resolve();
            t0 = process.hrtime.bigint();
            s.write(FRAME);
          });
          s.write(FRAME);
        }),
    ),
  );
  for (const s of sockets) s.destroy();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), rate: samples.length / SECONDS };
}

/** A bare echo server: replies to each SEND with a one-byte NUL, the least any server can do per request. */
async function echoFloor(): Promise<{ p50: number; p99: number }> {
  const code = `let first=true;const s=require('net').createServer({noDelay:true},c=>c.on('data',d=>{if(first){first=false;return c.write('RECEIPT\\n\\n\\0')}let n=0;for(let i=d.indexOf(0);i>=0;i=d.indexOf(0,i+1))n++;c.write(Buffer.alloc(n))})).listen(0,'127.0.0.1',()=>console.log(s.address().port))`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString()))),
  );
  const lat = await latency(port, null, 1);
  await stopProcess(child, 5000);
  return lat;
}

async function measure(label: string, pki: Pki | null) {
  // Logs go to a pipe we drain, as under journald; the request line is on at the default level.
  const server = await startVdsmdProcess({
    pki: pki ?? undefined,
    args: ['--log-level', values['log-level']!],
    output: 'drop',
  });
  // Warm the JIT before measuring.
  await throughput(server.port, pki, 1, 64);
  const rows: string[] = [];
  for (const conns of [1, 64]) {
    const lat = await latency(server.port, pki, conns);
    const window = conns === 1 ? 512 : 16;
    const rate = await throughput(server.port, pki, conns, window);
    rows.push(
      `${label.padEnd(9)} ${String(conns).padStart(5)}   ${lat.p50.toFixed(0).padStart(8)} ${lat.p99.toFixed(0).padStart(8)}  ${Math.round(lat.rate).toString().padStart(12)}  ${Math.round(rate).toString().padStart(14)}  (window ${window}/conn)`,
    );
  }
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) / 1024;
  await server.stop();
  return { rows, hwm };
}

/** Keeps `window` requests in flight per connection; counting starts after a short ramp (connection set-up is not in it). */
async function throughput(port: number, pki: Pki | null, conns: number, window: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: conns }, () => open(port, pki)));
  const burst = Buffer.concat(Array.from({ length: window }, () => FRAME));
  let replies = 0;
  let counting = false;
  const rampMs = 500;
  const t0 = Date.now();
  setTimeout(() => (counting = true), rampMs);
  const stopAt = t0 + rampMs + SECONDS * 1000;
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.on('data', (d: Buffer) => {
            const n = countNul(d);
            if (counting) replies += n;
            if (Date.now() >= stopAt) return resolve();
            if (n > 0) s.write(burst.subarray(0, Math.min(n, window) * FRAME.length));
          });
          s.write(burst);
        }),
    ),
  );
  for (const s of sockets) s.destroy();
  return replies / SECONDS;
}

const pki = makePki();
try {
  console.log(
    `bench/rpc: Host.ping2, ${SECONDS} s per figure, vdsmd log level ${values['log-level']}, node ${process.version}`,
  );
  console.log('transport  conns  p50 (µs) p99 (µs)  ping-pong/s  pipelined req/s');
  const floor = await echoFloor();
  console.log(
    `echo floor    1   ${floor.p50.toFixed(0).padStart(8)} ${floor.p99.toFixed(0).padStart(8)}  (bare Node echo process, same client)`,
  );
  let peak = 0;
  for (const [label, keys] of [
    ['plaintext', null],
    ['tls', pki],
  ] as const) {
    const { rows, hwm } = await measure(label, keys);
    for (const r of rows) console.log(r);
    peak = Math.max(peak, hwm);
  }
  console.log(`peak server RSS (VmHWM): ${peak.toFixed(1)} MiB`);
} finally {
  pki.cleanup();
}
