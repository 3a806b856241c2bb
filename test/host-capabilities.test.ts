import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHardwareInfo } from '../src/host/hardware.js';
import { HA_NOT_CONFIGURED } from '../src/common/ha-status.js';
import { HostStatsSampler } from '../src/host/stats.js';
import type { VerbContext } from '../src/verbs/context.js';
import { VdsmError } from '../src/common/errors.js';
import getCapabilities, { capabilitiesResult } from '../src/verbs/host/getCapabilities.js';
import getHardwareInfo, { hardwareInfoResult } from '../src/verbs/host/getHardwareInfo.js';

const log = pino({ level: 'silent' });
const ctxAt = (localAddress?: string): VerbContext => ({
  ha: HA_NOT_CONFIGURED,
  log,
  hostStats: new HostStatsSampler(),
  localAddress,
});
const packageVersion = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Capabilities vdsm sends as strings holding unsigned integers. */
const UINT_STRING_FIELDS = ['cpuCores', 'cpuThreads', 'cpuSockets', 'memSize', 'reservedMem', 'guestOverhead'] as const;

describe('Host.getCapabilities', () => {
  let caps: Record<string, unknown>;

  beforeAll(async () => {
    caps = (await getCapabilities.handler({}, ctxAt('127.0.0.1'))) as Record<string, unknown>;
  });

  it('matches the result schema and carries no undocumented keys', () => {
    expect(capabilitiesResult.safeParse(caps).error).toBeUndefined();
    const documented = Object.keys(capabilitiesResult.shape);
    expect(Object.keys(caps).filter((k) => !documented.includes(k))).toEqual([]);
  });

  it('sends numbers and flags as strings where vdsm does', () => {
    for (const f of UINT_STRING_FIELDS) expect(caps[f], f).toMatch(/^\d+$/);
    expect(caps.cpuSpeed).toMatch(/^\d+(\.\d+)?$/);
    expect(caps.kvmEnabled).toBe(existsSync('/dev/kvm') ? 'true' : 'false');
    expect(caps.netConfigDirty).toBe('False');
    expect(caps.reservedMem).toBe('321');
    expect(caps.guestOverhead).toBe('65');
    expect(Number.isInteger(caps.kdumpStatus)).toBe(true);
    expect(typeof caps.supportsIPv6).toBe('boolean');
    expect(typeof caps.fipsEnabled).toBe('boolean');
    expect(caps.hostedEngineDeployed).toBe(false);
    expect(caps.vmTypes).toEqual(['kvm']);
    expect(caps.hooks).toEqual({});
  });

  it('describes the real CPUs and memory', () => {
    const online = os.cpus().length;
    expect(caps.cpuThreads).toBe(String(online));
    expect(caps.onlineCpus).toBe(Array.from({ length: online }, (_, i) => i).join(','));
    expect(caps.cpuTopology).toHaveLength(online);
    expect(Number(caps.cpuCores)).toBeGreaterThanOrEqual(1);
    expect(Number(caps.cpuCores)).toBeLessThanOrEqual(online);
    expect(Number(caps.cpuSockets)).toBeGreaterThanOrEqual(1);
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    const flags = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/) ?? [];
    expect((caps.cpuFlags as string).split(',')).toEqual(flags);
    const memTotalKiB = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
    expect(caps.memSize).toBe(String(Math.floor(memTotalKiB / 1024)));
    const nodeCpus = Object.values(caps.numaNodes as Record<string, { cpus: number[] }>).flatMap((n) => n.cpus);
    expect(nodeCpus.sort((a, b) => a - b)).toEqual(Array.from({ length: online }, (_, i) => i));
  });

  it('reports this agent, the OS and the kernel', () => {
    expect(caps.software_version).toBe(packageVersion.split('-')[0]);
    expect((caps.packages2 as Record<string, { version: string }>).vdsm?.version).toBe(packageVersion.split('-')[0]);
    expect((caps.packages2 as Record<string, { version: string }>).kernel?.version).toBe(os.release().split('-')[0]);
    expect(caps.supportedENGINEs).toContain('4.5');
    expect(caps.clusterLevels).toContain('4.6');
    expect(caps.kernelArgs).toBe(readFileSync('/proc/cmdline', 'utf8').trim());
    expect(caps.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? '';
    expect((caps.operatingSystem as { pretty_name: string }).pretty_name).toBe(pretty);
  });

  it('lists the real network devices with vdsm field types', () => {
    const sysNet = readdirSync('/sys/class/net');
    const nics = caps.nics as Record<string, { mtu: string; speed: number; hwaddr: string; ipv4addrs: string[] }>;
    for (const [name, nic] of Object.entries(nics)) {
      expect(sysNet).toContain(name);
      expect(nic.mtu).toBe(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
      expect(Number.isInteger(nic.speed)).toBe(true);
      expect(nic.hwaddr).toBe(readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim());
      const v4 = (os.networkInterfaces()[name] ?? []).filter((a) => a.family === 'IPv4').map((a) => a.cidr);
      expect(nic.ipv4addrs).toEqual(v4);
    }
    expect(Object.keys(nics)).not.toContain('lo');
    const resolv = existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : '';
    expect(caps.nameservers).toEqual([...resolv.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]));
    expect(caps.HBAInventory).toMatchObject({ FC: [] });
  });

  it('names the device owning the local address as lastClientIface', async () => {
    expect(caps.lastClientIface).toBe('lo');
    const mapped = (await getCapabilities.handler({}, ctxAt('::ffff:127.0.0.1'))) as Record<string, unknown>;
    expect(mapped.lastClientIface).toBe('lo');
    const external = Object.entries(os.networkInterfaces())
      .flatMap(([name, addrs]) =>
        (addrs ?? []).filter((a) => !a.internal && a.family === 'IPv4').map((a) => ({ name, address: a.address })),
      )
      .at(0);
    if (external) {
      const viaNic = (await getCapabilities.handler({}, ctxAt(external.address))) as Record<string, unknown>;
      expect(viaNic.lastClientIface).toBe(external.name);
    }
    const unknown = (await getCapabilities.handler({}, ctxAt('203.0.113.77'))) as Record<string, unknown>;
    expect(unknown.lastClientIface).toBe('');
    const none = (await getCapabilities.handler({}, ctxAt(undefined))) as Record<string, unknown>;
    expect(none.lastClientIface).toBe('');
  });

  it('answers the same static facts on every call', async () => {
    const again = (await getCapabilities.handler({}, ctxAt('127.0.0.1'))) as Record<string, unknown>;
    for (const f of [
      'uuid',
      'cpuFlags',
      'cpuTopology',
      'memSize',
      'numaNodes',
      'software_version',
      'operatingSystem',
    ]) {
      expect(again[f], f).toEqual(caps[f]);
    }
  });

  it('keeps every type through a JSON round trip', () => {
    const wire = JSON.parse(JSON.stringify(caps)) as Record<string, unknown>;
    expect(wire).toEqual(caps);
    expect(capabilitiesResult.safeParse(wire).error).toBeUndefined();
    for (const f of UINT_STRING_FIELDS) expect(typeof wire[f], f).toBe('string');
    for (const cpu of wire.cpuTopology as Record<string, unknown>[]) {
      for (const v of Object.values(cpu)) expect(Number.isInteger(v)).toBe(true);
    }
  });
});

describe('Host.getHardwareInfo', () => {
  let dmi: string;

  beforeAll(() => {
    dmi = mkdtempSync(join(os.tmpdir(), 'dmi-'));
  });

  afterAll(() => {
    rmSync(dmi, { recursive: true, force: true });
  });

  it('reads the DMI fields, drops unset ones and upper-cases the UUID like dmidecode', async () => {
    writeFileSync(join(dmi, 'sys_vendor'), 'Acme Corp\n');
    writeFileSync(join(dmi, 'product_name'), 'Rack 9000\n');
    writeFileSync(join(dmi, 'product_version'), 'Not Specified\n');
    writeFileSync(join(dmi, 'product_uuid'), '4c4c4544-0037-3010-8052-b4c04f4e4a31\n');
    writeFileSync(join(dmi, 'product_family'), '\n');
    const info = await readHardwareInfo(dmi);
    expect(info).toEqual({
      systemManufacturer: 'Acme Corp',
      systemProductName: 'Rack 9000',
      systemUUID: '4C4C4544-0037-3010-8052-B4C04F4E4A31',
    });
    expect(hardwareInfoResult.safeParse(info).error).toBeUndefined();
  });

  it('fails with vdsm error 57 when no DMI field can be read', async () => {
    const empty = mkdtempSync(join(os.tmpdir(), 'nodmi-'));
    try {
      const failure = await readHardwareInfo(empty).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(VdsmError);
      expect(failure).toMatchObject({ code: 57, message: 'Failed to read hardware information' });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('answers for this machine: real DMI fields, or error 57 where the machine has none', async () => {
    const readable = [
      'sys_vendor',
      'product_name',
      'product_version',
      'product_serial',
      'product_uuid',
      'product_family',
    ].some((f) => {
      try {
        return readFileSync(`/sys/class/dmi/id/${f}`, 'utf8').trim() !== '';
      } catch {
        return false;
      }
    });
    const outcome = await Promise.resolve(getHardwareInfo.handler({}, ctxAt())).then(
      (info) => ({ info }),
      (err: unknown) => ({ err }),
    );
    if (readable) {
      expect('info' in outcome && hardwareInfoResult.safeParse(outcome.info).success).toBe(true);
      expect(Object.keys((outcome as { info: object }).info).length).toBeGreaterThan(0);
    } else {
      expect('err' in outcome && outcome.err).toMatchObject({ code: 57 });
    }
  });
});
