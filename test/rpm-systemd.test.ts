/**
 * Issue 15, "Proven under a real systemd": the admin's path on a throwaway machine. The RPMs are built, a container
 * with a real systemd boots over this machine's root (test/support/nspawn.ts), and everything after runs inside it
 * through the installed commands and units: install, `vdsm-tool configure --force`, vdsmd and the HA units under
 * systemctl, vdsm-client over mutual TLS, /metrics, `vdsm-tool service-restart vdsmd`, the fence agent on PATH
 * against a BMC, Pacemaker reading its metadata, erase.
 *
 * `rpm -i --nodeps`: this is Debian, whose rpm database knows none of the packages dpkg installed (node, sanlock,
 * ipmitool, openssl are there); the requirements themselves are checked in test/rpm.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIpmiSim, type IpmiSim } from './fixtures/ipmi-sim.js';
import { bootContainer, type Container } from './support/nspawn.js';
import { missing } from './support/peers.js';
import { runCommand } from './support/run-command.js';
import { waitFor } from './support/wait.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const cannot =
  missing('rpmbuild (Debian rpm)', !has('rpmbuild')) ||
  missing('systemd-nspawn (systemd-container)', !has('systemd-nspawn')) ||
  missing("Pacemaker's stonith_admin (pacemaker-cli-utils)", !has('stonith_admin')) ||
  missing('root (systemd-nspawn, mount)', process.getuid?.() !== 0);

const RPMS = '/mnt/vdsm-ts-rpms';
const PKI = '/etc/pki/vdsm';
const CURL_TLS = [
  '--cert',
  `${PKI}/certs/vdsmcert.pem`,
  '--key',
  `${PKI}/keys/vdsmkey.pem`,
  '--cacert',
  `${PKI}/certs/cacert.pem`,
];
const HE_CONF = `host_id=1
vmid=0fa1a2b3-c4d5-4e6f-8a9b-0c1d2e3f4a5b
vm_xml=/var/lib/vdsm-ts/he-test/engine.xml
metadata=/var/lib/vdsm-ts/he-test/metadata
lockspace=/var/lib/vdsm-ts/he-test/lockspace
lock=file
network_test=none
health_url=http://127.0.0.1:9/
monitor_interval=1
metrics_listen=127.0.0.1:54329
`;
const ENGINE_XML = `<domain type='kvm'><name>HostedEngine</name><uuid>0fa1a2b3-c4d5-4e6f-8a9b-0c1d2e3f4a5b</uuid>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>
`;

describe.skipIf(cannot)('the RPMs under a real systemd', () => {
  let tmp = '';
  let box: Container | undefined;
  let bmc: IpmiSim | undefined;
  let rpms: string[] = [];

  const sh = (script: string, timeoutMs?: number) => box!.check('sh', ['-c', script], { timeoutMs });
  const mainPid = async (unit: string) =>
    Number((await box!.check('systemctl', ['show', '-P', 'MainPID', unit])).trim());
  const ownerOf = async (pid: number) => (await box!.check('ps', ['-o', 'user=', '-p', String(pid)])).trim();

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'vdsm-rpm-systemd-'));
    const out = join(tmp, 'out');
    const build = await runCommand('bash', [join(repo, 'rpm/build.sh'), out], {
      cwd: repo,
      env: process.env,
      timeoutMs: 230_000,
    });
    if (build.code !== 0) throw new Error(`rpm/build.sh exited ${build.code}\n${build.stdout}\n${build.stderr}`);
    rpms = readdirSync(out).filter((f) => f.endsWith('.rpm'));
    box = await bootContainer({
      dir: tmp,
      name: `vts-rpm-${process.pid}`,
      bindRo: { [out]: RPMS },
      // Only what the test starts itself runs: no sshd, etcd, pacemaker this machine may have enabled.
      target: 'basic.target',
    });
  }, 400_000);

  afterAll(async () => {
    await bmc?.stop();
    await box?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 120_000);

  it('installs the four packages, with the vdsm user as upstream has it (uid 36, group kvm, in sanlock)', async () => {
    expect(rpms.map((f) => f.replace(/-\d.*$/, '')).sort()).toEqual([
      'vdsm-ts',
      'vdsm-ts-common',
      'vdsm-ts-coordinator',
      'vdsm-ts-fence-agents',
    ]);
    await box!.check('rpm', ['-i', '--nodeps', ...rpms.map((f) => `${RPMS}/${f}`)], { timeoutMs: 120_000 });
    const id = await box!.check('id', ['vdsm']);
    expect(id).toMatch(/^uid=36\(vdsm\) gid=\d+\(kvm\) /);
    expect(id).toMatch(/groups=.*\bsanlock\b/);
    expect(
      (await box!.check('stat', ['-c', '%U:%G %a', PKI, `${PKI}/keys`, '/var/log/vdsm', '/run/vdsm'])).split('\n'),
    ).toEqual(['vdsm:kvm 755', 'vdsm:kvm 750', 'vdsm:kvm 755', 'vdsm:kvm 755', '']);
    expect(await box!.check('cat', ['/usr/share/polkit-1/rules.d/10-vdsm-ts-libvirt-access.rules'])).toContain(
      'org.libvirt.unix.manage',
    );
  }, 180_000);

  it('refuses to start vdsmd on a host vdsm-tool has not configured, and says why', async () => {
    expect((await box!.run('vdsm-tool', ['is-configured'])).code).not.toBe(0);
    const start = await box!.run('systemctl', ['start', 'vdsmd'], { timeoutMs: 60_000 });
    expect(start.code).not.toBe(0);
    // journald takes the pre-start's stderr asynchronously: it may land after systemctl has reported the failure.
    const journal = await waitFor(
      "the pre-start's reason in the journal",
      async () => {
        const r = await box!.run('journalctl', ['-u', 'vdsmd', '--no-pager', '-o', 'cat']);
        return /not configured/i.test(r.stdout) ? r.stdout : '';
      },
      20_000,
      250,
    );
    expect(journal).toMatch(/modules .* are not configured: run 'vdsm-tool configure/);
    await box!.run('systemctl', ['reset-failed', 'vdsmd']);
  }, 90_000);

  it('configures the host with vdsm-tool configure --force: lock manager, sanlock, certificates', async () => {
    await box!.check('systemctl', ['start', 'sanlock', 'libvirtd']);
    await box!.check('vdsm-tool', ['configure', '--force'], { timeoutMs: 120_000 });
    await box!.check('vdsm-tool', ['is-configured']);
    expect(await box!.check('cat', ['/etc/libvirt/qemu.conf'])).toMatch(/^lock_manager = "sanlock"$/m);
    const sanlockConf = await box!.check('cat', ['/etc/libvirt/qemu-sanlock.conf']);
    expect(sanlockConf).toMatch(/^auto_disk_leases = 0$/m);
    expect(sanlockConf).toMatch(/^require_lease_for_disks = 0$/m);
    await box!.check('openssl', ['verify', '-CAfile', `${PKI}/certs/cacert.pem`, `${PKI}/certs/vdsmcert.pem`]);
  }, 180_000);

  it('starts vdsmd as vdsm, which reaches qemu:///system, and answers vdsm-client over mutual TLS', async () => {
    await box!.check('systemctl', ['start', 'vdsmd']);
    const pid = await mainPid('vdsmd');
    expect(pid).toBeGreaterThan(0);
    expect(await ownerOf(pid)).toBe('vdsm');
    const caps = await waitFor(
      'vdsmd to answer Host.getCapabilities',
      async () => {
        const r = await box!.run('vdsm-client', ['Host', 'getCapabilities'], { timeoutMs: 30_000 });
        return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
      },
      60_000,
      1000,
    );
    expect(caps).toHaveProperty('hooks');
    // Whether the vdsm user got through libvirt's polkit check: libvirt's connection state as vdsmd reports it.
    const health = await sh(`curl -sS ${CURL_TLS.join(' ')} https://localhost:54321/health`);
    expect(JSON.parse(health)).toMatchObject({ status: 'ok' });
  }, 120_000);

  it("the package's polkit rule is what lets the vdsm user manage qemu:///system", async () => {
    const rule = '/usr/share/polkit-1/rules.d/10-vdsm-ts-libvirt-access.rules';
    const asVdsm = () => box!.run('runuser', ['-u', 'vdsm', '--', 'virsh', '-c', 'qemu:///system', 'list', '--all']);
    expect((await asVdsm()).code).toBe(0);
    await box!.check('mv', [rule, '/root/rule.aside']);
    try {
      // polkitd rereads its rules directory when it changes.
      const denied = await waitFor(
        'libvirt to refuse vdsm',
        async () => {
          const r = await asVdsm();
          return r.code !== 0 ? r.stderr : '';
        },
        20_000,
        500,
      );
      expect(denied).toContain("'org.libvirt.unix.manage'");
    } finally {
      await box!.check('mv', ['/root/rule.aside', rule]);
    }
    await waitFor('libvirt to let vdsm in again', async () => (await asVdsm()).code === 0, 20_000, 500);
  }, 60_000);

  it('serves /metrics under the same mutual TLS, and refuses a client without a certificate', async () => {
    await box!.check('vdsm-client', ['Host', 'getStats']);
    const metrics = await sh(`curl -sS ${CURL_TLS.join(' ')} https://localhost:54321/metrics`);
    expect(metrics).toMatch(/^vdsm_rpc_requests_total\{[^}]*method="Host\.getStats"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^vdsm_libvirt_connected 1$/m);
    const anonymous = await box!.run('curl', [
      '-sS',
      '--cacert',
      `${PKI}/certs/cacert.pem`,
      'https://localhost:54321/metrics',
    ]);
    expect(anonymous.code).not.toBe(0);
  }, 60_000);

  it("vdsm-tool service-restart vdsmd (the engine's soft fence) brings a new vdsmd that serves", async () => {
    const before = await mainPid('vdsmd');
    await box!.check('vdsm-tool', ['service-restart', 'vdsmd'], { timeoutMs: 90_000 });
    const after = await mainPid('vdsmd');
    expect(after).toBeGreaterThan(0);
    expect(after).not.toBe(before);
    await waitFor(
      'the new vdsmd to answer',
      async () => (await box!.run('vdsm-client', ['Host', 'getCapabilities'], { timeoutMs: 30_000 })).code === 0,
      60_000,
      1000,
    );
    expect((await box!.run('vdsm-tool', ['service-status', 'vdsmd'])).code).toBe(0);
  }, 150_000);

  it('runs the HA broker and agent as ovirt-ha-broker and ovirt-ha-agent, the agent after the broker', async () => {
    await sh(
      `mkdir -p /etc/ovirt-hosted-engine /var/lib/vdsm-ts/he-test && chown vdsm:kvm /var/lib/vdsm-ts/he-test && ` +
        `printf '%s' '${ENGINE_XML}' > /var/lib/vdsm-ts/he-test/engine.xml && ` +
        `printf '%s' '${HE_CONF}' > /etc/ovirt-hosted-engine/hosted-engine.conf`,
    );
    await box!.check('systemctl', ['start', 'ovirt-ha-broker']);
    // Global maintenance before the agent starts: it monitors and scores, and never tries to start the engine VM.
    await waitFor(
      'the broker to take global maintenance',
      async () => (await box!.run('hosted-engine', ['--set-maintenance', '--mode=global'])).code === 0,
      60_000,
      1000,
    );
    await box!.check('systemctl', ['start', 'ovirt-ha-agent']);
    expect(await box!.check('systemctl', ['show', '-P', 'After', 'ovirt-ha-agent'])).toMatch(
      /(?=.*\bovirt-ha-broker\.service\b)(?=.*\bsanlock\.service\b)/,
    );
    for (const unit of ['ovirt-ha-broker', 'ovirt-ha-agent']) expect(await ownerOf(await mainPid(unit))).toBe('vdsm');
    const status = await waitFor(
      'the agent to publish its score',
      async () => {
        const r = await box!.run('hosted-engine', ['--vm-status', '--json']);
        return r.code === 0 && /"score"/.test(r.stdout) ? r.stdout : '';
      },
      90_000,
      1000,
    );
    expect(status).toMatch(/"global_maintenance":\s*true/);
    const metrics = await waitFor(
      "the broker's metrics to show this host's score",
      async () => {
        const r = await box!.run('curl', ['-sS', 'http://127.0.0.1:54329/metrics']);
        return /^he_host_score\{[^}]*host_id="1"[^}]*\} \d+/m.test(r.stdout) ? r.stdout : '';
      },
      60_000,
      1000,
    );
    expect(metrics).toMatch(/^he_global_maintenance 1$/m);
    expect(metrics).toMatch(/^he_engine_vm_state\{/m);
    await box!.check('systemctl', ['stop', 'ovirt-ha-agent', 'ovirt-ha-broker']);
  }, 240_000);

  it('puts the fence agents on PATH: fence_ipmilan against a BMC, and Pacemaker reads its metadata', async () => {
    // The BMC lives in the container's network namespace (loopback there), its files on this machine.
    bmc = await startIpmiSim({ power: 'on', at: { address: '127.0.0.1', port: 6230, wrap: box!.netnsWrap } });
    expect(await box!.check('head', ['-2', '/usr/sbin/fence_ipmilan'])).toContain('/usr/lib/vdsm-ts/dist/fence/');
    // The stdin form, as Pacemaker calls it: the password in no process list.
    const status = await box!.run('/usr/sbin/fence_ipmilan', [], {
      input: 'ip=127.0.0.1\nipport=6230\nusername=admin\npassword=password\nlanplus=1\ncipher=3\naction=status\n',
    });
    expect([status.code, status.stdout.trim()]).toEqual([0, 'Status: ON']);
    const ours = await box!.check('/usr/sbin/fence_ipmilan', ['-o', 'metadata']);
    const pacemaker = await box!.check('stonith_admin', ['--metadata', '--agent', 'fence_ipmilan']);
    const params = (xml: string) => [...xml.matchAll(/<parameter name="([^"]+)"/g)].map((m) => m[1]);
    expect(pacemaker).toContain('<resource-agent name="fence_ipmilan"');
    expect(params(pacemaker)).toEqual(params(ours));
    expect(params(ours).length).toBeGreaterThan(20);
    // Ours, not the Debian fence_ipmilan under the overlay: our description is in our own words.
    const description = /<longdesc>([^<]+)<\/longdesc>/.exec(ours)![1]!;
    expect(pacemaker).toContain(description);
    const debian = await runCommand('/usr/bin/python3', ['/usr/sbin/fence_ipmilan', '-o', 'metadata']);
    expect(debian.stdout).toContain('<resource-agent name="fence_ipmilan"');
    expect(debian.stdout).not.toContain(description);
    expect(await box!.check('rpm', ['-qf', '/usr/share/man/man8/fence_ipmilan.8'])).toMatch(/^vdsm-ts-fence-agents-/);
  }, 120_000);

  it('runs the coordinator as its own user on its own etcd member, and its CLI reaches it', async () => {
    await box!.check('systemctl', ['start', 'vdsm-ts-coordinator']);
    expect(await ownerOf(await mainPid('vdsm-ts-coordinator'))).toBe('vdsm-coordinator');
    const status = await waitFor(
      'the coordinator to lead',
      async () => {
        const r = await box!.run('vdsm-ts-coordinator', ['status', '--json'], { timeoutMs: 20_000 });
        return r.code === 0 ? r.stdout : '';
      },
      90_000,
      1000,
    );
    expect(status).toMatch(/leader/i);
    expect(await box!.check('stat', ['-c', '%U %a', '/var/lib/vdsm-ts/coordinator/etcd'])).toMatch(
      /^vdsm-coordinator 700$/m,
    );
    await box!.check('systemctl', ['stop', 'vdsm-ts-coordinator']);
  }, 150_000);

  it('erases the packages: units stopped, configuration taken back', async () => {
    await box!.check('rpm', ['-e', 'vdsm-ts', 'vdsm-ts-fence-agents', 'vdsm-ts-coordinator', 'vdsm-ts-common'], {
      timeoutMs: 120_000,
    });
    expect((await box!.run('systemctl', ['is-active', 'vdsmd'])).stdout.trim()).not.toBe('active');
    expect(await box!.check('cat', ['/etc/libvirt/qemu.conf'])).not.toMatch(/^lock_manager = "sanlock"$/m);
  }, 150_000);
});
