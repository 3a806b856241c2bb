import { describe, expect, it } from 'vitest';
import { VdsmError } from '../src/common/errors.js';
import { domainFacts, DomainXmlError, forDriver, legacyDomainXml, liveDevices } from '../src/virt/domxml.js';
import { vmStats } from '../src/virt/stats.js';
import { exitInfo, Vm } from '../src/virt/vm.js';
import { ExitReason } from '../src/virt/vmstatus.js';

const facts = {
  uuid: '5f2b7c1e-1111-4222-8333-944455556666',
  name: 'v',
  memoryMiB: 128,
  vcpus: 1,
  acpi: true,
  domainType: 'kvm',
};

describe('VM status is derived from libvirt and the clock, as vdsm', () => {
  const vm = () => new Vm(facts, '<domain/>', 1_000, 60_000);

  it('WaitForLaunch, Powering up for 60 s, then Up; raw status Up throughout', () => {
    const v = vm();
    expect(v.status(1_000)).toBe('WaitForLaunch');
    v.started(2_000);
    expect(v.status(2_000 + 59_999)).toBe('Powering up');
    expect(v.rawStatus()).toBe('Up');
    expect(v.status(2_000 + 60_000)).toBe('Up');
  });

  it('Powering down for 300 s after a shutdown request, then back to Up', () => {
    const v = vm();
    v.started(0);
    v.poweringDown(100_000);
    expect(v.status(100_000 + 299_999)).toBe('Powering down');
    expect(v.status(100_000 + 300_000)).toBe('Up');
  });

  it('pauseCode NOERR from the start, EIO on an I/O pause, gone after cont', () => {
    const v = vm();
    v.started(0);
    expect(v.pauseCode).toBe('NOERR');
    v.paused(10, 'EIO');
    expect([v.status(10), v.pauseCode]).toEqual(['Paused', 'EIO']);
    v.resumed(20);
    expect(v.pauseCode).toBeUndefined();
  });

  it('a recovered VM is Up at once', () => {
    const v = vm();
    v.recovered(5_000, false);
    expect(v.status(5_001)).toBe('Up');
  });

  it('Down stats hold only the exit triple', () => {
    const v = vm();
    v.started(0);
    v.down(50, exitInfo(ExitReason.LostQemuConnection, 1));
    expect(vmStats(v, 60, undefined)).toEqual({
      statusTime: '50',
      status: 'Down',
      vmId: facts.uuid,
      exitCode: 1,
      exitReason: 2,
      exitMessage: 'Lost connection with qemu process',
    });
  });
});

describe('VM statistics from two bulk samples', () => {
  it('cpuUser/cpuSys are percent of one CPU over the window, cpuUsage cumulative user+system ns', () => {
    const v = new Vm(facts, '<domain/>', 0, 60_000);
    v.started(0);
    const prev = { at: 0, stats: { 'cpu.time': 0, 'cpu.user': 0, 'cpu.system': 0 } };
    const last = { at: 10_000, stats: { 'cpu.time': 15e9, 'cpu.user': 2e9, 'cpu.system': 1e9, 'vcpu.current': 2 } };
    const s = vmStats(v, 10_000, { prev, last });
    // 15 s of CPU in 10 s: 150 %, of which user+system (vdsm's "sys") 30 %.
    expect(s).toMatchObject({
      cpuUser: '120.00',
      cpuSys: '30.00',
      cpuUsage: '3000000000',
      cpuActual: true,
      vcpuCount: '2',
      vmJobs: {},
    });
  });

  it('disks: cumulative counters and latency per request, rates in bytes/s; NICs with the MAC from the live XML', () => {
    const v = new Vm(facts, '<domain/>', 0, 60_000);
    v.started(0);
    v.readLiveXml(`<domain type='kvm'><devices><interface type='bridge'><mac address='52:54:00:aa:bb:cc'/><target dev='vnet7'/><model type='virtio'/></interface>
      <graphics type='vnc' port='5900' tlsPort='-1'><listen type='address' address='127.0.0.1'/></graphics><memballoon model='virtio'/></devices></domain>`);
    const block = (reqs: number, bytes: number, times: number) => ({
      'block.count': 1,
      'block.0.name': 'vda',
      'block.0.rd.reqs': reqs,
      'block.0.rd.bytes': bytes,
      'block.0.rd.times': times,
      'block.0.capacity': 1 << 30,
    });
    const net = {
      'net.count': 1,
      'net.0.name': 'vnet7',
      'net.0.rx.bytes': 1000,
      'net.0.tx.bytes': 2000,
      'balloon.current': 131072,
    };
    const s = vmStats(v, 2_000, {
      prev: { at: 0, stats: block(10, 4096, 1000) },
      last: { at: 2_000, stats: { ...block(20, 8192, 6000), ...net } },
    }) as any;
    expect(s.disks.vda).toMatchObject({
      readOps: '20',
      readBytes: '8192',
      readLatency: '500',
      readRate: '2048',
      apparentsize: '1073741824',
    });
    expect(s.network.vnet7).toMatchObject({
      macAddr: '52:54:00:aa:bb:cc',
      speed: '1000',
      rx: '1000',
      tx: '2000',
      state: 'unknown',
    });
    expect(Number.isInteger(s.network.vnet7.sampleTime)).toBe(false);
    expect(s.displayInfo).toEqual([{ type: 'vnc', port: '5900', tlsPort: '-1', ipAddress: '127.0.0.1' }]);
    expect(s.balloonInfo).toMatchObject({ balloon_max: '131072', balloon_cur: '131072', ballooning_enabled: true });
    expect(s.hash).toMatch(/^-?\d+$/);
  });
});

describe('domain XML', () => {
  it('reads uuid, name, memory in any unit, vCPUs and ACPI', () => {
    const xml = `<domain type='kvm'><name>a&amp;b</name><uuid>5F2B7C1E-1111-4222-8333-944455556666</uuid><memory unit='GiB'>2</memory><vcpu placement='static'>4</vcpu><features><acpi/><apic/></features></domain>`;
    expect(domainFacts(xml)).toEqual({
      uuid: '5f2b7c1e-1111-4222-8333-944455556666',
      name: 'a&b',
      memoryMiB: 2048,
      vcpus: 4,
      acpi: true,
      domainType: 'kvm',
    });
  });

  it('refuses what is not a usable domain, saying why', () => {
    const bad: [string, RegExp][] = [
      ['', /malformed|not a libvirt <domain>/],
      ['<domain><name>x</name><uuid>nope</uuid><memory>1</memory></domain>', /is not a UUID/],
      [
        '<domain><name>x</name><uuid>5f2b7c1e-1111-4222-8333-944455556666</uuid><memory>1</memory><vcpu>0</vcpu></domain>',
        /<vcpu> must be a positive/,
      ],
      [
        '<domain><name>x</name><uuid>5f2b7c1e-1111-4222-8333-944455556666</uuid><memory unit="parsecs">1</memory></domain>',
        /<memory> must be a positive size/,
      ],
      ['<domain><uuid>5f2b7c1e-1111-4222-8333-944455556666</uuid><memory>1</memory></domain>', /has no <name>/],
    ];
    for (const [xml, message] of bad) expect(() => domainFacts(xml), xml).toThrow(message);
    expect(() => domainFacts('<domain><name>x</name></domain>')).toThrow(DomainXmlError);
  });

  it('builds legacy vmParams into XML that escapes names and reads back the same facts', () => {
    const xml = legacyDomainXml({
      vmId: facts.uuid,
      vmName: `<b>&'"`,
      memSize: 64,
      smp: 3,
      acpiEnable: false,
      kvmEnable: false,
    });
    expect(domainFacts(xml)).toEqual({
      uuid: facts.uuid,
      name: `<b>&'"`,
      memoryMiB: 64,
      vcpus: 3,
      acpi: false,
      domainType: 'qemu',
    });
  });

  it('gives the test driver type test and leaves other drivers alone', () => {
    const xml = `<domain xmlns:x="urn:x" type="kvm" id="3"><name>t</name></domain>`;
    expect(forDriver(xml, 'test:///default')).toBe(
      `<domain xmlns:x="urn:x" type='test' id="3"><name>t</name></domain>`,
    );
    expect(forDriver(xml, 'qemu:///system')).toBe(xml);
  });

  it('finds no NICs, displays or balloon in a bare domain', () => {
    expect(liveDevices('<domain/>')).toEqual({ nics: new Map(), displays: [], hasBalloon: false });
  });
});

describe("vdsm's general exception text", () => {
  it('is the repr of a one-element tuple, quoting as Python does', () => {
    expect(VdsmError.general('boom').message).toBe("General Exception: ('boom',)");
    expect(VdsmError.general("VM 'x' gone").message).toBe(`General Exception: ("VM 'x' gone",)`);
    expect(VdsmError.general(`it's "both"`).message).toBe(`General Exception: ('it\\'s "both"',)`);
    expect(VdsmError.general('boom').code).toBe(100);
  });
});
