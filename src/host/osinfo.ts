import os from 'node:os';
import { exists, listDir, parseCpuList, readInt, readLine, readText } from './read.js';

/** vdsm's OsVersion: `name` is one of its OSName values. */
export interface OsVersion {
  name: 'RHEL' | 'Fedora' | 'oVirt Node' | 'RHEV Hypervisor' | 'Debian' | 'unknown';
  version: string;
  release: string;
  pretty_name: string;
}

export async function readOsVersion(): Promise<OsVersion> {
  const osRelease = parseKeyValues((await readText('/etc/os-release')) ?? '');
  const pretty_name = osRelease.PRETTY_NAME ?? '';
  const name = await releaseName();
  if (name === 'oVirt Node' || name === 'RHEV Hypervisor') {
    const node = parseKeyValues((await readText('/etc/default/version')) ?? '');
    return { name, version: node.VERSION ?? '', release: node.RELEASE ?? '', pretty_name };
  }
  if (name === 'Debian')
    return { name, version: (await readLine('/etc/debian_version')) ?? '', release: '', pretty_name };
  // vdsm takes RHEL/Fedora versions from the rpm database; os-release's VERSION_ID is the same number.
  return { name, version: osRelease.VERSION_ID ?? '', release: '', pretty_name };
}

async function releaseName(): Promise<OsVersion['name']> {
  if (await exists('/etc/rhev-hypervisor-release')) return 'RHEV Hypervisor';
  if ((await listDir('/etc')).some((f) => /^ovirt-node-.*-release$/.test(f))) return 'oVirt Node';
  if (await exists('/etc/fedora-release')) return 'Fedora';
  if (await exists('/etc/redhat-release')) return 'RHEL';
  if (await exists('/etc/debian_version')) return 'Debian';
  return 'unknown';
}

function parseKeyValues(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0)
      values[line.slice(0, eq).trim()] = line
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
  }
  return values;
}

/** The running kernel as vdsm's packages2.kernel: "5.14.0-362.el9.x86_64" -> version "5.14.0", release the rest. */
export function kernelPackage(): { version: string; release: string } {
  const rel = os.release();
  const dash = rel.indexOf('-');
  return dash < 0 ? { version: rel, release: '' } : { version: rel.slice(0, dash), release: rel.slice(dash + 1) };
}

export function isRealtimeKernel(): boolean {
  return os.version().includes('RT');
}

/** SELinux enforce mode as vdsm reports it: "1" enforcing, "0" permissive, "-1" disabled. */
export async function selinuxMode(): Promise<'1' | '0' | '-1'> {
  for (const mnt of ['/sys/fs/selinux', '/selinux']) {
    const mode = await readInt(`${mnt}/enforce`);
    if (mode === 1) return '1';
    if (mode === 0) return '0';
  }
  return '-1';
}

/** vdsm's kdumpStatus: 1 when a crash kernel is loaded and fence_kdump is configured, 0 when not, -1 unknown. */
export async function kdumpStatus(): Promise<-1 | 0 | 1> {
  const loaded = await readInt('/sys/kernel/kexec_crash_loaded');
  if (loaded === undefined) return -1;
  if (loaded !== 1) return 0;
  const conf = await readText('/etc/kdump.conf');
  if (conf === undefined) return -1;
  return conf.split('\n').some((l) => l.startsWith('fence_kdump_nodes')) ? 1 : 0;
}

export async function fipsEnabled(): Promise<boolean> {
  return (await readInt('/proc/sys/crypto/fips_enabled')) === 1;
}

export async function nestedVirtualization(): Promise<boolean> {
  for (const mod of ['kvm_intel', 'kvm_amd', 'kvm']) {
    const value = await readLine(`/sys/module/${mod}/parameters/nested`);
    if (value === 'Y' || value === '1') return true;
  }
  return false;
}

/** kernel.numa_balancing: 0 disabled, 1 enabled, 2 unknown (vdsm's AutoNumaBalancingStatus). */
export async function autoNumaBalancing(): Promise<0 | 1 | 2> {
  const value = await readInt('/proc/sys/kernel/numa_balancing');
  return value === 0 ? 0 : value === 1 ? 1 : 2;
}

/** CPU vulnerability mitigations, keyed by the upper-cased sysfs file name as vdsm reports them. */
export async function kernelFeatures(): Promise<Record<string, string>> {
  const dir = '/sys/devices/system/cpu/vulnerabilities';
  const features: Record<string, string> = {};
  for (const name of await listDir(dir)) {
    const value = await readLine(`${dir}/${name}`);
    if (value !== undefined) features[name.toUpperCase()] = value;
  }
  return features;
}

/**
 * The host UUID the engine identifies this host by: /etc/vdsm/vdsm.id when an admin set one (vdsm's
 * override), else the DMI product UUID, else the systemd machine id in UUID form. `root` prefixes every path
 * (vdsm-tool's scratch roots).
 */
export async function hostUuid(root = ''): Promise<string> {
  const override = await readLine(`${root}/etc/vdsm/vdsm.id`);
  if (override) return override;
  const dmi = await readLine(`${root}/sys/class/dmi/id/product_uuid`);
  if (dmi && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(dmi)) return dmi.toLowerCase();
  const machineId = await readLine(`${root}/etc/machine-id`);
  if (machineId && /^[0-9a-f]{32}$/i.test(machineId)) {
    const m = machineId.toLowerCase();
    return `${m.slice(0, 8)}-${m.slice(8, 12)}-${m.slice(12, 16)}-${m.slice(16, 20)}-${m.slice(20)}`;
  }
  return '';
}

/** The iSCSI initiator name ("" when open-iscsi is not set up). */
export async function iscsiInitiatorName(): Promise<string> {
  const line = ((await readText('/etc/iscsi/initiatorname.iscsi')) ?? '')
    .split('\n')
    .find((l) => l.startsWith('InitiatorName'));
  return line?.split('=')[1]?.trim() ?? '';
}

/** Entropy sources a VM's virtio-rng may use; vdsm leaves urandom out for old engines. */
export async function rngSources(): Promise<('random' | 'hwrng')[]> {
  const sources: ('random' | 'hwrng')[] = [];
  for (const [name, path] of [
    ['random', '/dev/random'],
    ['hwrng', '/dev/hwrng'],
  ] as const) {
    if (await exists(path)) sources.push(name);
  }
  return sources;
}

/** CPUs this process may run on (/proc/self/status Cpus_allowed_list). */
export async function processCpuAffinity(): Promise<number[] | undefined> {
  const line = ((await readText('/proc/self/status')) ?? '')
    .split('\n')
    .find((l) => l.startsWith('Cpus_allowed_list:'));
  return line ? parseCpuList(line.slice(line.indexOf(':') + 1)) : undefined;
}
