/**
 * npm run lab: the coordinator's netns bed (test/coordinator-bed/, README "The netns topology") left running for a
 * person to watch and break: 3 hosts with vdsmd, sshd and a BMC each, etcd, a coordinator replica, a few VMs.
 *
 *   npm run lab                       bring it up (a background process holds it) and print what to do
 *   npm run lab -- status | hosts | vms | events
 *   npm run lab -- kill-vdsmd|kill-host|cut-network|freeze|power-off|kill-bmc|restore HOST
 *   npm run lab -- down               stop everything it started and remove it
 *
 * The background process owns the bed (its BMC watchers apply power, its portholes look into the namespaces) and
 * takes commands on a unix socket in LAB_DIR. Needs root, as the bed does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bed } from '../test/coordinator-bed/bed.js';
import { FAST_POLICY } from '../test/coordinator-bed/policy.js';
import { plan, populate } from '../test/coordinator-bed/populate.js';

const LAB_DIR = process.env.LAB_DIR ?? '/tmp/vdsm-ts-lab';
const SOCKET = join(LAB_DIR, 'control.sock');
const PID_FILE = join(LAB_DIR, 'lab.pid');
const LOG = join(LAB_DIR, 'lab.log');
const FAULTS = ['kill-vdsmd', 'kill-host', 'cut-network', 'freeze', 'power-off', 'kill-bmc', 'restore'] as const;
const self = fileURLToPath(import.meta.url);

/** One command to the running lab; its answer. */
function ask(line: string, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(SOCKET);
    let out = '';
    const timer = setTimeout(
      () => (sock.destroy(), reject(new Error(`no answer from the lab in ${timeoutMs} ms`))),
      timeoutMs,
    );
    sock.on('connect', () => sock.write(`${line}\n`)); // not end(): the server would close before it answers
    sock.on('data', (d) => (out += d.toString()));
    sock.on('error', (err) => (clearTimeout(timer), reject(err)));
    sock.on('close', () => (clearTimeout(timer), resolve(out)));
  });
}

const running = () =>
  existsSync(SOCKET) &&
  ask('ping', 5000).then(
    (a) => a.trim() === 'pong',
    () => false,
  );

async function up(): Promise<void> {
  if (await running()) return void console.log(`The lab already runs (${LAB_DIR}).\n${await ask('help')}`);
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  rmSync(LAB_DIR, { recursive: true, force: true });
  mkdirSync(LAB_DIR, { recursive: true });
  const log = openSync(LOG, 'a');
  const child = spawn(process.execPath, [...process.execArgv, self, '__serve'], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  writeFileSync(PID_FILE, String(child.pid));
  console.log(`Starting the lab (pid ${child.pid}; log ${LOG}): 3 hosts, etcd, a coordinator, 5 VMs, about a minute…`);
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) break;
    if (await running()) return void console.log(await ask('help'));
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `the lab did not come up; its log:\n${existsSync(LOG) ? readFileSync(LOG, 'utf8').slice(-4000) : ''}`,
  );
}

async function down(): Promise<void> {
  if (await running()) {
    const answer = (await ask('down', 180_000)).trim();
    console.log(answer);
    // its bed is gone: the log and pid file go too (after a failed stop they stay, for a person to read)
    if (answer === 'the lab is down') rmSync(LAB_DIR, { recursive: true, force: true });
  } else if (existsSync(PID_FILE)) {
    const pid = Number(readFileSync(PID_FILE, 'utf8'));
    try {
      process.kill(pid, 'SIGTERM'); // it stops its bed on SIGTERM
      console.log(`sent SIGTERM to the lab (pid ${pid})`);
    } catch {
      console.log('no lab runs');
    }
  } else console.log('no lab runs');
}

/** The background process: starts the bed, populates it, serves commands until `down` or SIGTERM. */
async function serve(): Promise<void> {
  const bed = await Bed.start({ hosts: 3, replicas: 1, etcdMembers: 1, policy: FAST_POLICY, topology: 'netns' });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= bed.stop().finally(() => rmSync(SOCKET, { force: true })));
  process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
  process.on('SIGINT', () => void stop().then(() => process.exit(0)));
  try {
    await populate(bed, plan());
  } catch (err) {
    console.error(err);
    await stop();
    process.exit(1);
  }
  const leader = await bed.leader();
  const cli = (args: string[]) => leader.commandLine(args);
  const help = [
    'The lab runs: host1..host3 (vdsmd, sshd, a BMC each), etcd, one coordinator replica; VMs h1-ha-a, h1-ha-b,',
    'h1-plain on host1, h2-ha on host2, h3-plain on host3 (the -ha ones are highly available).',
    '',
    'Watch:   npm run lab -- status      (the coordinator, etcd, hosts and VMs by state)',
    '         npm run lab -- hosts       (each host: state, address, VMs)',
    '         npm run lab -- vms         (VMs, where they run)',
    '         npm run lab -- events      (the audit trail)',
    `   or follow it live: ${cli(['events', '--follow'])}`,
    'Break:   npm run lab -- kill-vdsmd host1    vdsmd dies; the host is fine (soft fence over SSH)',
    '         npm run lab -- cut-network host1   its management link cut; its BMC reachable',
    '         npm run lab -- freeze host1        every process of it stopped (a kernel hang)',
    '         npm run lab -- kill-host host1     its power lost behind its BMC (the BMC reads OFF)',
    '         npm run lab -- power-off host1     powered off through its BMC, as an admin would',
    '         npm run lab -- kill-bmc host1      its BMC stops answering',
    'Mend:    npm run lab -- restore host1       network, freeze, BMC and power back as they were',
    'Remove:  npm run lab -- down',
  ].join('\n');
  const faults = bed.faults!;
  const run = async (words: string[]): Promise<string> => {
    const [cmd, host] = words;
    if (cmd === 'ping') return 'pong';
    if (cmd === 'help') return help;
    const out = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;
    if (cmd === 'status') return out(await leader.cli(['status']));
    if (cmd === 'hosts') return out(await leader.cli(['hosts']));
    if (cmd === 'vms') return out(await leader.cli(['vms']));
    if (cmd === 'events') return out(await leader.cli(['events', '--limit', '40']));
    if (!FAULTS.includes(cmd as (typeof FAULTS)[number])) return `unknown command ${cmd}\n\n${help}`;
    if (!host || !bed.hosts.some((h) => h.name === host)) return `${cmd} needs a host: host1, host2 or host3`;
    switch (cmd) {
      case 'kill-vdsmd':
        await faults.killVdsmd(host);
        return `${host}: vdsmd killed`;
      case 'cut-network':
        await faults.cutHost(host, 'both');
        return `${host}: management link cut`;
      case 'freeze':
        return `${host}: ${(await faults.freezeHost(host)).length} processes stopped`;
      case 'kill-host':
        await bed.bmc(host).powerCut();
        return `${host}: power lost`;
      case 'power-off':
        await faults.powerOff(host);
        return `${host}: powered off through its BMC`;
      case 'kill-bmc':
        await faults.killBmc(host);
        return `${host}: BMC dead`;
      default: {
        await faults.restoreHost(host);
        await faults.thawHost(host);
        await faults.restoreBmc(host);
        if (!bed.host(host).alive()) await faults.powerOn(host);
        return `${host}: network, processes, BMC and power restored`;
      }
    }
  };
  const server = createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const words = buf.slice(0, nl).trim().split(/\s+/);
      if (words[0] === 'down') return void stop().then(() => sock.end('the lab is down\n', () => process.exit(0)));
      run(words).then(
        (a) => sock.end(`${a.trimEnd()}\n`),
        (err: Error) => sock.end(`failed: ${err.message}\n`),
      );
    });
    sock.on('error', () => {});
  });
  server.listen(SOCKET);
  console.log('lab ready');
}

const [cmd = 'up', ...rest] = process.argv.slice(2);
if (cmd === '__serve') await serve();
else if (cmd === 'up') await up();
else if (cmd === 'down') await down();
else if (!(await running())) {
  console.error('no lab runs: npm run lab');
  process.exit(1);
} else console.log((await ask([cmd, ...rest].join(' '))).trimEnd());
