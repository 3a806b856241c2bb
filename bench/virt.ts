/**
 * bench/virt: VM verbs on libvirt's test driver, vdsmd in this process, an engine-like STOMP client on loopback.
 *   npm run bench:virt [-- --rounds 50 --vms 10,100,1000]
 * Prints Host.getAllVmStats round-trip latency with 10, 100 and 1,000 VMs (statistics sampled twice first, as
 * after 30 s of vdsm's 15 s sampling; the round trip includes the client's JSON parse, in this same process),
 * the server's share alone (dispatcher to reply text), the bulk sampling time itself, and for VM.create: the time from libvirt's
 * lifecycle event (as the addon timestamps it on libvirt's event thread) to the VM_status event on vdsmd's bus and
 * to its arrival at the engine client, plus VM.create request → start event at the client.
 * Targets: 1,000 VMs' stats ≤ 50 ms; an event on the bus ≤ 10 ms after libvirt emits it. Figures only.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startVdsmd } from '../src/cli/service.js';
import { testConfig } from '../test/support/config.js';
import { EngineClient } from '../test/support/engine.js';
import { engineDomainXml } from '../test/support/vm-xml.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '50' }, vms: { type: 'string', default: '10,100,1000' } },
});
const ROUNDS = Number(values.rounds);
const SIZES = values.vms!.split(',').map(Number);
if (!SIZES.every((n, i) => Number.isInteger(n) && n > (SIZES[i - 1] ?? 1)))
  throw new Error(`--vms: increasing VM counts above 1, not ${values.vms}`);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (ms: number) => ms.toFixed(2).padStart(8);

const service = await startVdsmd(testConfig({ logLevel: 'warn' }), { log: pino({ level: 'warn' }) });
await service.recovered;
const vms = service.virt.vms!;
const engine = await EngineClient.connect(service.port);

const libvirtAt = new Map<string, number>();
const busAt = new Map<string, number>();
vms.hypervisor.onLifecycle((e) => e.event === 2 && libvirtAt.set(e.uuid, e.at));
service.events.subscribe((e) => {
  const id = e.method.split('|')[3]!;
  if (!busAt.has(id)) busAt.set(id, now());
});

const createToClient: number[] = [];
const libvirtToBus: number[] = [];
const libvirtToClient: number[] = [];
const arrivals: [string, number][] = [];

async function createVms(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const { uuid, xml } = engineDomainXml({ uuid: randomUUID() });
    const sent = now();
    const reply = await engine.request('VM.create', { vmParams: { xml } });
    if (reply.error) throw new Error(`VM.create: ${reply.error.message}`);
    // Timing rows from the first 200 creates; the rest only fill the host.
    if (createToClient.length >= 200) continue;
    await engine.until(() => engine.events.some((e) => e.body.method === `|virt|VM_status|${uuid}`), 5000);
    const arrived = now();
    createToClient.push(arrived - sent);
    arrivals.push([uuid, arrived]);
  }
  for (const [uuid, arrived] of arrivals.splice(0)) {
    libvirtToBus.push(busAt.get(uuid)! - libvirtAt.get(uuid)!);
    libvirtToClient.push(arrived - libvirtAt.get(uuid)!);
  }
  engine.events.length = 0;
}

console.log(`bench/virt: libvirt test driver in process, node ${process.version}, ${ROUNDS} rounds per row`);
console.log('VMs    getAllVmStats p50 (ms)  p99 (ms)   server p50 (ms)   reply KiB   bulk sample (ms)');
let have = 1; // the test driver's own "test" domain
for (const target of SIZES) {
  await createVms(target - have);
  have = target;
  const t0 = now();
  await vms.sample();
  const sampleMs = now() - t0;
  await vms.sample();
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const start = now();
    const reply = await engine.request('Host.getAllVmStats');
    times.push(now() - start);
    if (reply.result.length !== target) throw new Error(`expected ${target} VMs, got ${reply.result.length}`);
    bytes = JSON.stringify(reply).length;
  }
  // The server's share: dispatch, 1,000 stats objects and the JSON text, without STOMP and the client's parse.
  const server: number[] = [];
  const request = JSON.stringify({ jsonrpc: '2.0', id: 'bench', method: 'Host.getAllVmStats', params: {} });
  for (let i = 0; i < ROUNDS; i++) {
    const start = now();
    await service.dispatcher.handle(request);
    server.push(now() - start);
  }
  console.log(
    `${String(target).padStart(4)}   ${fmt(pct(times, 50))}               ${fmt(pct(times, 99))}   ${fmt(pct(server, 50))}          ${(bytes / 1024).toFixed(0).padStart(8)}   ${fmt(sampleMs)}`,
  );
}
console.log(`\nVM.create → start event, ${createToClient.length} VMs      p50 (ms)  p99 (ms)   max (ms)`);
for (const [name, xs] of [
  ['libvirt event → VM_status on the bus', libvirtToBus],
  ['libvirt event → engine client', libvirtToClient],
  ['VM.create sent → event at the client', createToClient],
] as const) {
  console.log(`${name.padEnd(38)} ${fmt(pct(xs, 50))}  ${fmt(pct(xs, 99))}  ${fmt(Math.max(...xs))}`);
}
await engine.close();
await service.close();
