/**
 * bench/fence: our standalone fence_ipmilan against ClusterLabs' with the same arguments against one ipmi_sim,
 * runs alternating, medians and the ratio; then Host.fenceNode status over vdsmd's real RPC path.
 *   npm run bench:fence [-- --runs 20]
 * Figures only; nothing passes or fails.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { startIpmiSim } from '../test/fixtures/ipmi-sim.js';
import { ourAgent, runFence, theirAgent } from '../test/support/fence-exec.js';
import { startVdsmdProcess } from '../test/support/vdsmd-start.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const RUNS = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const sim = await startIpmiSim({ user: 'admin', password: 'bench-pw' });
const base = [
  '--ip',
  '127.0.0.1',
  '--ipport',
  String(sim.port),
  '-l',
  'admin',
  '-p',
  'bench-pw',
  '--lanplus',
  '-C',
  '3',
];

/** Alternates ours and theirs so that machine noise hits both alike. */
async function compare(label: string, args: string[], runs: number) {
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < runs; i++) {
    sim.setPower('on');
    const t = await runFence(theirAgent('fence_ipmilan'), args);
    sim.setPower('on');
    const o = await runFence(ourAgent('fence_ipmilan'), args);
    if (o.code !== t.code)
      throw new Error(`${label}: exit codes differ (ours ${o.code}, theirs ${t.code}): ${o.stderr}`);
    theirs.push(t.ms);
    ours.push(o.ms);
  }
  const [m, n] = [median(ours), median(theirs)];
  console.log(
    `${label.padEnd(34)} ours ${m.toFixed(1).padStart(7)} ms   ClusterLabs ${n.toFixed(1).padStart(7)} ms   ratio ${(m / n).toFixed(2)}`,
  );
}

async function reference(label: string, program: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) =>
      spawn(program, args, { stdio: 'ignore', env: { PATH: process.env.PATH, ...env } }).on('close', () => resolve()),
    );
    times.push(performance.now() - t0);
  }
  console.log(`${label.padEnd(34)} ${median(times).toFixed(1).padStart(7)} ms`);
}

/** Host.fenceNode status, sequential requests over a plain STOMP connection to a vdsmd process. */
async function fenceNodeOverRpc(runs: number): Promise<number> {
  // warn level: the ready line is at info, so ready is learnt by asking (start-up takes a second or more, longer on
  // a busy machine).
  const vdsmd = await startVdsmdProcess({
    args: ['--log-level', 'warn'],
    readyBy: 'ping',
    startTimeoutMs: 30_000,
    output: 'drop',
  });
  try {
    const socket = net.connect({ host: '127.0.0.1', port: vdsmd.port });
    socket.setNoDelay(true);
    await new Promise((r) => socket.once('connect', r));
    socket.write('CONNECT\naccept-version:1.2\n\n\0SUBSCRIBE\ndestination:r\nid:s\n\n\0');
    const call = (id: string, method: string, params: object) =>
      new Promise<string>((resolve) => {
        const body = JSON.stringify({ jsonrpc: '2.0', id, method, params });
        let seen = '';
        const on = (d: Buffer) => {
          seen += d.toString();
          if (seen.includes(`"${id}"`) && seen.includes('\0')) {
            socket.off('data', on);
            resolve(seen);
          }
        };
        socket.on('data', on);
        socket.write(
          `SEND\ndestination:jms.topic.vdsm_requests\nreply-to:r\ncontent-length:${Buffer.byteLength(body)}\n\n${body}\0`,
        );
      });
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const reply = await call(`f${i}`, 'Host.fenceNode', {
        addr: '127.0.0.1',
        port: '',
        agent: 'ipmilan',
        username: 'admin',
        password: 'bench-pw',
        action: 'status',
        options: `ipport=${sim.port}\nlanplus=1\ncipher=3`,
      });
      times.push(performance.now() - t0);
      if (!reply.includes('"power":"on"')) throw new Error(`unexpected reply: ${reply}`);
    }
    socket.destroy();
    return median(times);
  } finally {
    await vdsmd.stop();
  }
}

try {
  console.log(`bench/fence: ${RUNS} alternating runs per figure against one ipmi_sim, node ${process.version}`);
  await compare('fence_ipmilan -o status', [...base, '-o', 'status'], RUNS);
  await compare(
    'fence_ipmilan -o reboot --power-wait 0',
    [...base, '--power-wait', '0', '-o', 'reboot'],
    Math.max(3, Math.floor(RUNS / 4)),
  );
  console.log('references:');
  await reference(
    'ipmitool chassis power status',
    '/usr/bin/ipmitool',
    [
      '-I',
      'lanplus',
      '-H',
      '127.0.0.1',
      '-p',
      String(sim.port),
      '-U',
      'admin',
      '-E',
      '-C',
      '3',
      'chassis',
      'power',
      'status',
    ],
    { IPMI_PASSWORD: 'bench-pw' },
  );
  await reference('node -e 0', process.execPath, ['-e', '0']);
  await reference('/usr/bin/python3 -c pass', '/usr/bin/python3', ['-c', 'pass']);
  console.log(
    `${'Host.fenceNode status over RPC'.padEnd(34)} ${(await fenceNodeOverRpc(RUNS)).toFixed(1).padStart(7)} ms (median round trip, vdsmd in its own process)`,
  );
} finally {
  await sim.stop();
}
