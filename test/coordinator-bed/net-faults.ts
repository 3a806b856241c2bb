/**
 * The faults of the netns bed, injected where they happen (README.md, "The netns topology"): a process killed, a
 * management link cut both ways (its switch port down) or one way (iptables in the host's namespace), a whole host
 * frozen (SIGSTOP to every process of its namespace), its power switched through its BMC from a peer (the path a
 * fence proxy takes), its BMC dead and back, a replica cut from every etcd member or from every host. No vitest here.
 */
import type { CommandResult } from '../support/run-command.js';
import { waitFor } from '../support/wait.js';
import type { Bed } from './bed.js';
import type { BedNet, NetNode, Way } from './bed-net.js';
import { IPMI_PORT } from './bmc.js';

/** The BMC password the bed gives `host` (bed.ts keeps it in the coordinator's secrets directory). */
export const bmcPassword = (host: string) => `bmc-${host}-pw`;

export class NetFaults {
  constructor(
    private readonly bed: Bed,
    private readonly net: BedNet,
  ) {}

  /** The namespace node of `host` ("host2" → h2). */
  node(host: string): NetNode {
    const i = this.bed.hosts.findIndex((h) => h.name === host);
    if (i < 0) throw new Error(`no bed host ${host}`);
    return this.net.host(i + 1);
  }

  /** The namespace node of a replica, by its name. */
  replicaNode(name: string): NetNode {
    const i = this.bed.replicas.findIndex((r) => r.name === name);
    const n = this.net.replicas[i];
    if (!n) throw new Error(`no bed replica ${name}`);
    return n;
  }

  /** SIGKILL vdsmd alone; its guests keep running (in its node file). */
  killVdsmd(host: string): Promise<void> {
    return this.bed.host(host).kill();
  }

  /**
   * Cuts the host's management link: 'both' unplugs it (its switch port down), 'in' drops what it receives there,
   * 'out' what it sends. Its BMC is on the other network and stays reachable.
   */
  async cutHost(host: string, way: Way = 'both'): Promise<void> {
    const n = this.node(host);
    if (way === 'both') await this.net.cut(n);
    else await this.net.drop(n, way);
    this.bed.host(host).history.push(`${new Date().toISOString()} management link cut (${way})`);
  }

  async restoreHost(host: string): Promise<void> {
    const n = this.node(host);
    await this.net.undrop(n);
    await this.net.restore(n);
    this.bed.host(host).history.push(`${new Date().toISOString()} management link restored`);
  }

  /** A kernel hang: every process of the host stopped. The pids stopped. */
  async freezeHost(host: string): Promise<number[]> {
    const pids = await this.net.signalEverything(this.node(host).ns, 'SIGSTOP');
    this.bed.host(host).noteFrozen(true);
    return pids;
  }

  async thawHost(host: string): Promise<number[]> {
    const pids = await this.net.signalEverything(this.node(host).ns, 'SIGCONT');
    this.bed.host(host).noteFrozen(false);
    return pids;
  }

  /**
   * `ipmitool chassis power ACTION` to the host's BMC, from the namespace of `via` (default: the next host), as a
   * fence proxy sends it; the password in the environment.
   */
  ipmi(host: string, action: 'on' | 'off' | 'status', via?: string): Promise<CommandResult> {
    const names = this.bed.hosts.map((h) => h.name);
    const from = via ?? names[(names.indexOf(host) + 1) % names.length]!;
    const bmc = this.bed.bmc(host);
    return this.net.exec(
      this.node(from).ns,
      ['ipmitool', '-I', 'lanplus', '-H', bmc.address, '-p', String(IPMI_PORT), '-U', 'admin', '-E', '-C', '3'].concat([
        '-N',
        '1',
        '-R',
        '2',
        'chassis',
        'power',
        action,
      ]),
      { env: { IPMI_PASSWORD: bmcPassword(host) }, timeoutMs: 15_000 },
    );
  }

  /** Power off through the BMC; resolves once the host's power-off was carried out to its end (bed-host.ts). */
  async powerOff(host: string): Promise<void> {
    const r = await this.ipmi(host, 'off');
    if (r.code !== 0) throw new Error(`power off ${host} through its BMC: ${r.stderr.trim() || r.stdout.trim()}`);
    await waitFor(`${host} powered off`, () => this.bed.host(host).powerState() === 'off', 30_000, 100);
  }

  /** Power on through the BMC; resolves once the host booted to its end (libvirtd, sshd, vdsmd). */
  async powerOn(host: string): Promise<void> {
    const r = await this.ipmi(host, 'on');
    if (r.code !== 0) throw new Error(`power on ${host} through its BMC: ${r.stderr.trim() || r.stdout.trim()}`);
    await waitFor(`${host} powered on`, () => this.bed.host(host).powerState() === 'on', 60_000, 200);
  }

  killBmc(host: string): Promise<void> {
    return this.bed.bmc(host).kill();
  }

  restoreBmc(host: string): Promise<void> {
    return this.bed.bmc(host).restore();
  }

  /** The replica neither reaches nor hears any etcd member (both ways); the hosts it still reaches. */
  cutReplicaFromEtcd(replica: string): Promise<void> {
    return this.net.drop(
      this.replicaNode(replica),
      'both',
      this.net.etcd.map((e) => e.ip),
    );
  }

  /** The replica neither reaches nor hears any host (both ways); etcd and the other replicas it still reaches. */
  cutReplicaFromHosts(replica: string): Promise<void> {
    return this.net.drop(
      this.replicaNode(replica),
      'both',
      this.net.hosts.map((h) => h.ip),
    );
  }

  restoreReplica(replica: string): Promise<void> {
    return this.net.undrop(this.replicaNode(replica));
  }
}
