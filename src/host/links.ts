import { exists, linkTarget, listDir, readInt, readLine, readText } from './read.js';
import { readNetDev } from './proc.js';

const NET = '/sys/class/net';
const IFF_UP = 0x1;
const ARPHRD_LOOPBACK = 772;

export type LinkKind = 'loopback' | 'nic' | 'bond' | 'bridge' | 'vlan' | 'other';

export interface LinkInfo {
  name: string;
  kind: LinkKind;
  /** Administratively up and operationally running (vdsm's "oper up": IFF_UP and IFF_RUNNING). */
  up: boolean;
  /** Mbps; 0 when down, unknown, or not a nic/bond/vlan (vdsm reads speed only for those). */
  speed: number;
  /** "full", "half" or "unknown". */
  duplex: string;
  mtu?: number;
  hwaddr?: string;
  /** For vlans: the underlying device and the tag. */
  vlan?: { base: string; id: number };
}

/** Names of all network links: sysfs when mounted, else the names /proc/net/dev knows. */
export async function listLinkNames(): Promise<string[]> {
  const names = await listDir(NET);
  if (names.length > 0) return names;
  return [...(await readNetDev()).keys()].sort();
}

export async function readLinkInfo(name: string, vlans?: Map<string, { base: string; id: number }>): Promise<LinkInfo> {
  const dir = `${NET}/${name}`;
  const [kind, operstate, flags, mtu, hwaddr, duplexText] = await Promise.all([
    linkKind(name),
    readLine(`${dir}/operstate`),
    readLine(`${dir}/flags`),
    readInt(`${dir}/mtu`),
    readLine(`${dir}/address`),
    readLine(`${dir}/duplex`),
  ]);
  // sysfs shows dev->flags, which lacks IFF_RUNNING; the kernel derives RUNNING from operstate up/unknown.
  const up =
    flags !== undefined
      ? (parseInt(flags, 16) & IFF_UP) !== 0 && (operstate === 'up' || operstate === 'unknown')
      : operstate === 'up';
  const vlan = kind === 'vlan' ? ((vlans ?? (await readVlanConfig())).get(name) ?? vlanFromName(name)) : undefined;
  return {
    name,
    kind,
    up,
    speed: up ? await linkSpeed(name, kind, vlan?.base) : 0,
    duplex: duplexText ?? 'unknown',
    mtu,
    hwaddr,
    vlan,
  };
}

async function linkKind(name: string): Promise<LinkKind> {
  const dir = `${NET}/${name}`;
  if ((await readInt(`${dir}/type`)) === ARPHRD_LOOPBACK || name === 'lo') return 'loopback';
  if (await exists(`${dir}/bridge`)) return 'bridge';
  if (await exists(`${dir}/bonding`)) return 'bond';
  if (/^DEVTYPE=vlan$/m.test((await readText(`${dir}/uevent`)) ?? '')) return 'vlan';
  // vdsm's default fake_nics (dummy_*, veth_*) are reported as nics too.
  if ((await linkTarget(`${dir}/device`)) !== undefined || /^(dummy|veth)_/.test(name)) return 'nic';
  return 'other';
}

async function linkSpeed(name: string, kind: LinkKind, vlanBase?: string): Promise<number> {
  if (kind === 'vlan') return vlanBase ? linkSpeed(vlanBase, 'nic') : 0;
  if (kind !== 'nic' && kind !== 'bond') return 0;
  const speed = await readInt(`${NET}/${name}/speed`);
  // The kernel uses -1, 65535 and 2^32-1 for "unknown".
  if (speed === undefined || speed <= 0 || speed === 0xffff || speed === 0xffffffff) return 0;
  return speed;
}

/** vlan device -> base and tag from /proc/net/vlan/config (root-only on some kernels). */
export async function readVlanConfig(): Promise<Map<string, { base: string; id: number }>> {
  const vlans = new Map<string, { base: string; id: number }>();
  for (const line of (await readText('/proc/net/vlan/config'))?.split('\n').slice(2) ?? []) {
    const [dev, id, base] = line.split('|').map((s) => s.trim());
    if (dev && base && id && /^\d+$/.test(id)) vlans.set(dev, { base, id: Number(id) });
  }
  return vlans;
}

function vlanFromName(name: string): { base: string; id: number } | undefined {
  const m = /^(.+)\.(\d+)$/.exec(name);
  return m ? { base: m[1]!, id: Number(m[2]) } : undefined;
}

/** Slaves of a bond (from sysfs). */
export async function bondSlaves(name: string): Promise<string[]> {
  return ((await readLine(`${NET}/${name}/bonding/slaves`)) ?? '').split(/\s+/).filter(Boolean).sort();
}

/** Ports enslaved to a bridge. */
export async function bridgePorts(name: string): Promise<string[]> {
  return listDir(`${NET}/${name}/brif`);
}

/** A directory of one-value sysfs files (bridge/ or bonding/ options) as name -> string. */
export async function readOptionDir(dir: string, names?: string[]): Promise<Record<string, string>> {
  const opts: Record<string, string> = {};
  for (const opt of names ?? (await listDir(dir))) {
    const value = await readLine(`${dir}/${opt}`);
    if (value !== undefined) opts[opt] = value;
  }
  return opts;
}
