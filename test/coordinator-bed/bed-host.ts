/**
 * One bed host: a real vdsmd process (the built dist/cli/vdsmd.js) with mutual TLS and its own certificate, always on
 * the port it got first (a restart or a power-on comes back where the coordinator knows it). Its guests are either
 * real QEMU under a libvirtd of its own (`qemu`: the netns bed), which outlive a vdsmd killed and die with the power,
 * or the libvirt test driver over its node file (loopback): killing or restarting vdsmd on purpose first writes the
 * VMs it runs into the node file, so the restarted vdsmd recovers them; losing power empties the file. No vitest here.
 */
import { join } from 'node:path';
import type { Pki } from '../support/pki.js';
import { startVdsmdProcess, type VdsmdProcess } from '../support/vdsmd-start.js';
import type { HostQemu } from './bed-qemu.js';
import { writeNodeFile } from './node-xml.js';
import { hostView, type Identity } from './pki.js';
import { type Endpoint, type TlsFiles, vmList } from './vdsm-ask.js';

/** vdsmd's port on a machine of its own (the netns bed): nothing else listens there. */
export const VDSM_PORT = 54321;

/**
 * A host that is a machine of its own (the netns bed) rather than processes on loopback: where its vdsmd runs and
 * listens, how the harness reaches it, and what its power does to the rest of the machine.
 */
export interface HostMachine {
  /** The argv prefix that runs a command on it (`ip netns exec NS`). */
  wrap: string[];
  /** vdsmd's address (on VDSM_PORT). */
  address: string;
  /** Where the harness reaches its vdsmd. */
  endpoint: Endpoint;
  /** Power on, before its services: links up, the harness's porthole. */
  boot(): Promise<void>;
  /** Power off: every process of the machine killed, its links down. */
  halt(): Promise<void>;
}

export interface BedHostOptions {
  name: string;
  dir: string;
  pki: Pki;
  identity: Identity;
  /** The sampler's and the harness's own client identity (the CA's engine certificate). */
  client: TlsFiles;
  /** The XML of every VM the bed defined, by id: what a node file is written from. */
  domainXml(id: string): string | undefined;
  /** A machine of its own (netns bed); loopback without. */
  machine?: HostMachine;
  /** Its guests as QEMU under a libvirtd of its own (started before vdsmd); the test driver without. */
  qemu?: HostQemu;
}

export class BedHost {
  readonly name: string;
  readonly nodeFile: string;
  port = 0;
  private proc: VdsmdProcess | undefined;
  private frozen = false;
  private power: 'on' | 'off' | 'switching' = 'on';
  /** Every vdsmd started, oldest first (each keeps its whole log). */
  private readonly incarnations: VdsmdProcess[] = [];
  /** What happened to this host, for the report: "t kill", "t power off", ... */
  readonly history: string[] = [];
  /** The machine's other services (its sshd): they go down and up with its power. */
  private readonly services: { down(): Promise<void>; up(): Promise<void> }[] = [];

  constructor(private readonly o: BedHostOptions) {
    this.name = o.name;
    this.nodeFile = join(o.dir, `${o.name}.xml`);
    writeNodeFile(this.nodeFile, []);
  }

  alsoRuns(service: { down(): Promise<void>; up(): Promise<void> }): void {
    this.services.push(service);
  }

  get pid(): number | undefined {
    return this.proc?.alive() ? this.proc.pid : undefined;
  }

  /** Where the harness asks its vdsmd. */
  get endpoint(): Endpoint {
    return this.o.machine?.endpoint ?? this.port;
  }

  /** Its vdsmd's address, as the coordinator is given it. */
  get address(): string {
    return this.o.machine?.address ?? '127.0.0.1';
  }

  get machine(): HostMachine | undefined {
    return this.o.machine;
  }

  get qemu(): HostQemu | undefined {
    return this.o.qemu;
  }

  alive(): boolean {
    return this.proc?.alive() === true;
  }

  isFrozen(): boolean {
    return this.frozen && this.alive();
  }

  private note(what: string): void {
    this.history.push(`${new Date().toISOString()} ${what}`);
  }

  /** Starts vdsmd on the node file as it is (the first start picks a free port, later ones reuse it). */
  async start(): Promise<void> {
    if (this.alive()) throw new Error(`${this.name}: vdsmd already runs (pid ${this.proc!.pid})`);
    const m = this.o.machine;
    const uri = this.o.qemu ? this.o.qemu.uri : `test://${this.nodeFile}`;
    this.proc = await startVdsmdProcess({
      pki: hostView(this.o.pki, this.o.identity),
      args: m ? ['--bind', m.address, '--port', String(VDSM_PORT)] : ['--port', String(this.port)],
      ...(m ? { wrap: m.wrap } : {}),
      env: { VDSM_LIBVIRT_URI: uri, VDSM_GUEST_WAIT_TIMEOUT: '1' },
      startTimeoutMs: 30_000,
    });
    this.frozen = false;
    this.port = this.proc.port;
    this.incarnations.push(this.proc);
    this.note(`vdsmd started (pid ${this.proc.pid}, port ${this.port})`);
  }

  /** What its vdsmd lists now, Down VMs included (Host.getAllVmStats). */
  list(): ReturnType<typeof vmList> {
    return vmList(this.endpoint, this.o.client, 5000);
  }

  /**
   * Writes what vdsmd lists now into the node file (every VM not Down, with the XML the bed defined it with), those
   * of `died` shut off.
   */
  async persistRunning(died: readonly string[] = []): Promise<void> {
    if (this.o.qemu) return; // its libvirtd keeps them
    const listed = await vmList(this.endpoint, this.o.client, 5000);
    const xmlOf = (id: string) => {
      const xml = this.o.domainXml(id);
      if (!xml) throw new Error(`${this.name} runs ${id}, which the bed did not define`);
      return xml;
    };
    const running = listed.filter((v) => v.status !== 'Down').map((v) => v.vmId);
    writeNodeFile(
      this.nodeFile,
      running.filter((id) => !died.includes(id)).map(xmlOf),
      running.filter((id) => died.includes(id)).map(xmlOf),
    );
  }

  /**
   * A guest that dies by itself (its QEMU crashed). Under QEMU its process is SIGKILLed and vdsmd hears it from
   * libvirt. The test driver runs inside vdsmd and no guest of it can die alone, so there the crash happens across a
   * vdsmd restart: the guest is written shut off, and the restarted vdsmd's recovery finds it so and lists it Down
   * with an error, as vdsm does with a domain that died meanwhile.
   */
  async crashVm(id: string): Promise<void> {
    if (!this.alive() || this.frozen) throw new Error(`${this.name}: vdsmd must run to crash a guest`);
    if (this.o.qemu) {
      const name = /<name>([^<]+)<\/name>/.exec(this.o.domainXml(id) ?? '')?.[1];
      if (!name) throw new Error(`${this.name}: the bed did not define ${id}`);
      this.note(`guest ${id} crashed (QEMU pid ${this.o.qemu.crash(name)} killed)`);
      return;
    }
    await this.persistRunning([id]);
    this.note(`guest ${id} crashed (across a vdsmd restart)`);
    await this.hardStop();
    await this.start();
  }

  /** SIGKILL, its QEMUs left running: the node file lists what it ran (read from it first when it answers). */
  async kill(): Promise<void> {
    if (!this.alive()) return;
    if (!this.frozen) await this.persistRunning();
    this.note('vdsmd killed (its VMs keep running)');
    await this.hardStop();
  }

  /** A service restart: what it runs survives it. */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  freeze(): void {
    if (!this.alive()) throw new Error(`${this.name}: no vdsmd to freeze`);
    this.proc!.child.kill('SIGSTOP');
    this.frozen = true;
    this.note('vdsmd frozen (SIGSTOP)');
  }

  thaw(): void {
    if (this.alive()) this.proc!.child.kill('SIGCONT');
    this.frozen = false;
    this.note('vdsmd thawed (SIGCONT)');
  }

  /** The whole machine was stopped or continued (the netns bed signals every process of its namespace). */
  noteFrozen(frozen: boolean): void {
    this.frozen = frozen;
    this.note(frozen ? 'machine frozen (SIGSTOP to every process)' : 'machine thawed (SIGCONT to every process)');
  }

  /** Power lost: vdsmd dies with its guests (the node file is emptied) and the machine's other services. */
  async powerOff(): Promise<void> {
    this.power = 'switching';
    this.note('power off: vdsmd, its guests and its sshd gone');
    await this.hardStop();
    writeNodeFile(this.nodeFile, []);
    await this.o.machine?.halt();
    await this.o.qemu?.lost();
    for (const s of this.services) await s.down();
    this.power = 'off';
  }

  async powerOn(): Promise<void> {
    this.power = 'switching';
    this.note('power on');
    await this.o.machine?.boot();
    await this.o.qemu?.boot();
    for (const s of this.services) await s.up();
    if (!this.alive()) await this.start();
    this.power = 'on';
  }

  /** 'off' once a power-off was carried out to its end (every part of the host down), 'on' once a power-on was. */
  powerState(): 'on' | 'off' | 'switching' {
    return this.power;
  }

  private async hardStop(): Promise<void> {
    const p = this.proc;
    if (!p?.alive()) return;
    // SIGKILL alone, frozen or not: a SIGCONT first could let a frozen vdsmd answer a request it had queued, after
    // its power went off (the coordinator would then see a host answering that its BMC switched off).
    const gone = new Promise<void>((r) => p.child.once('exit', () => r()));
    p.child.kill('SIGKILL');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    this.frozen = false;
  }

  /** Every incarnation's log, oldest first. */
  fullLog(): string {
    return this.incarnations.map((p) => p.output()).join('\n--- vdsmd restarted ---\n');
  }

  logTail(chars = 3000): string {
    return this.fullLog().slice(-chars);
  }

  async stop(): Promise<void> {
    if (this.proc?.alive()) {
      this.proc.child.kill('SIGCONT');
      await this.proc.stop();
    }
    await this.o.qemu?.stop();
  }
}
