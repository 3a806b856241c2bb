import os from 'node:os';
import {
  bondSlaves,
  bridgePorts,
  listLinkNames,
  readLinkInfo,
  readOptionDir,
  readVlanConfig,
  type LinkInfo,
} from './links.js';
import { exists, readInt, readLine, readText } from './read.js';

/** Addressing facts vdsm reports for every device (its `_devinfo`). */
export interface DevInfo {
  addr: string;
  netmask: string;
  ipv4addrs: string[];
  ipv6addrs: string[];
  ipv6autoconf: boolean;
  gateway: string;
  ipv6gateway: string;
  ipv4defaultroute: boolean;
  /** A string: vdsm answers the engine's old compatibility level, which wants MTUs as strings. */
  mtu: string;
  dhcpv4: boolean;
  dhcpv6: boolean;
}

export type NicInfo = DevInfo & { hwaddr: string; speed: number };
export type BridgeInfo = DevInfo & { ports: string[]; stp: 'on' | 'off'; opts: Record<string, string> };
export type BondInfo = DevInfo & {
  hwaddr: string;
  slaves: string[];
  active_slave: string;
  opts: Record<string, string>;
  speed: number;
  switch: 'legacy';
};
export type VlanInfo = DevInfo & { iface: string; vlanid: number };

export interface NetworkCaps {
  /** Networks the engine configured through vdsm; none until network setup is implemented. */
  networks: Record<string, never>;
  nics: Record<string, NicInfo>;
  bridges: Record<string, BridgeInfo>;
  bondings: Record<string, BondInfo>;
  vlans: Record<string, VlanInfo>;
  nameservers: string[];
  supportsIPv6: boolean;
}

export async function readNetworkCaps(): Promise<NetworkCaps> {
  const [names, vlanConfig, gw4, gw6, nameservers, supportsIPv6] = await Promise.all([
    listLinkNames(),
    readVlanConfig(),
    ipv4Gateways(),
    ipv6Gateways(),
    readNameservers(),
    exists('/proc/net/if_inet6'),
  ]);
  const addresses = os.networkInterfaces();
  const caps: NetworkCaps = { networks: {}, nics: {}, bridges: {}, bondings: {}, vlans: {}, nameservers, supportsIPv6 };
  for (const name of names) {
    const link = await readLinkInfo(name, vlanConfig);
    const dev = await devInfo(link, addresses[name] ?? [], gw4.get(name) ?? '', gw6.get(name) ?? '::');
    const dir = `/sys/class/net/${name}`;
    if (link.kind === 'nic') caps.nics[name] = { ...dev, hwaddr: link.hwaddr ?? '', speed: link.speed };
    else if (link.kind === 'bridge') {
      const stp = await readInt(`${dir}/bridge/stp_state`);
      caps.bridges[name] = {
        ...dev,
        ports: await bridgePorts(name),
        stp: stp ? 'on' : 'off',
        opts: await readOptionDir(`${dir}/bridge`),
      };
    } else if (link.kind === 'bond') {
      caps.bondings[name] = {
        ...dev,
        hwaddr: link.hwaddr ?? '',
        slaves: await bondSlaves(name),
        active_slave: (await readLine(`${dir}/bonding/active_slave`)) ?? '',
        opts: await bondOptions(dir),
        speed: link.speed,
        switch: 'legacy',
      };
    } else if (link.kind === 'vlan' && link.vlan)
      caps.vlans[name] = { ...dev, iface: link.vlan.base, vlanid: link.vlan.id };
  }
  return caps;
}

async function devInfo(
  link: LinkInfo,
  addrs: os.NetworkInterfaceInfo[],
  gateway: string,
  ipv6gateway: string,
): Promise<DevInfo> {
  const v4 = addrs.filter((a) => a.family === 'IPv4');
  // Link-local IPv6 addresses are left out, as vdsm skips link-scope addresses.
  const v6 = addrs.filter((a) => a.family === 'IPv6' && !/^fe[89ab]/i.test(a.address));
  const primary = v4.find((a) => gateway !== '' && sameSubnet(a.address, gateway, a.netmask)) ?? v4[0];
  return {
    addr: primary?.address ?? '',
    netmask: primary?.netmask ?? '',
    ipv4addrs: v4.map((a) => a.cidr ?? a.address),
    ipv6addrs: v6.map((a) => a.cidr ?? a.address),
    ipv6autoconf: (await readInt(`/proc/sys/net/ipv6/conf/${link.name}/autoconf`)) === 1,
    gateway,
    ipv6gateway,
    ipv4defaultroute: gateway !== '',
    mtu: String(link.mtu ?? 1500),
    dhcpv4: false,
    dhcpv6: false,
  };
}

/** The bond options the engine shows: mode as its number (sysfs says "balance-rr 0") and miimon. */
async function bondOptions(dir: string): Promise<Record<string, string>> {
  const opts: Record<string, string> = {};
  const mode = (await readLine(`${dir}/bonding/mode`))?.split(/\s+/)[1];
  if (mode !== undefined) opts.mode = mode;
  const miimon = await readLine(`${dir}/bonding/miimon`);
  if (miimon !== undefined) opts.miimon = miimon;
  return opts;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => (n << 8) + Number(octet), 0) >>> 0;
}

function sameSubnet(a: string, b: string, mask: string): boolean {
  const m = ipv4ToInt(mask);
  return (ipv4ToInt(a) & m) === (ipv4ToInt(b) & m);
}

/** device -> IPv4 default gateway from /proc/net/route; ambiguous (several gateways) reads as none. */
async function ipv4Gateways(): Promise<Map<string, string>> {
  const found = new Map<string, Set<string>>();
  for (const line of (await readText('/proc/net/route'))?.split('\n').slice(1) ?? []) {
    const [dev, dest, gw, , , , , mask] = line.trim().split(/\s+/);
    if (!dev || !gw || dest !== '00000000' || mask !== '00000000' || gw === '00000000') continue;
    // The kernel prints the address as a little-endian hex word.
    const ip = [6, 4, 2, 0].map((i) => parseInt(gw.slice(i, i + 2), 16)).join('.');
    found.set(dev, (found.get(dev) ?? new Set()).add(ip));
  }
  return new Map([...found].filter(([, gws]) => gws.size === 1).map(([dev, gws]) => [dev, [...gws][0]!]));
}

/** device -> IPv6 default gateway from /proc/net/ipv6_route. */
async function ipv6Gateways(): Promise<Map<string, string>> {
  const found = new Map<string, Set<string>>();
  for (const line of (await readText('/proc/net/ipv6_route'))?.split('\n') ?? []) {
    const [dest, prefix, , , nexthop, , , , , dev] = line.trim().split(/\s+/);
    if (!dev || !nexthop || !/^0+$/.test(dest ?? '') || prefix !== '00' || /^0+$/.test(nexthop)) continue;
    found.set(dev, (found.get(dev) ?? new Set()).add(compressIpv6(nexthop)));
  }
  return new Map([...found].filter(([, gws]) => gws.size === 1).map(([dev, gws]) => [dev, [...gws][0]!]));
}

/** 32 hex digits -> canonical compressed IPv6 text (the URL parser does the compression). */
function compressIpv6(hex: string): string {
  const groups = hex.match(/.{4}/g) ?? [];
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

async function readNameservers(): Promise<string[]> {
  return ((await readText('/etc/resolv.conf')) ?? '')
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((ns): ns is string => ns !== undefined);
}

/**
 * The device holding the local address a request arrived on (vdsm's lastClientIface); "" when none does.
 * IPv4-mapped IPv6 forms (::ffff:a.b.c.d, what a dual-stack listener sees) match the IPv4 address.
 */
export function interfaceOwning(localAddress: string | undefined): string {
  if (!localAddress) return '';
  const [bare, zone] = localAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').split('%');
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (addrs?.some((a) => a.address.toLowerCase() === bare?.toLowerCase())) return name;
  }
  if (zone) return zone;
  return /^127\./.test(bare ?? '') || bare === '::1' ? 'lo' : '';
}
