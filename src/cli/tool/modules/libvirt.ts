import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addToGroups, readAccounts } from '../accounts.js';
import { configureSectionFile, removeSectionFile, sectionFileProblems, type SectionFile } from '../conf-file.js';
import { rooted, type ToolContext } from '../context.js';
import type { ToolModule } from './module.js';

/**
 * The hosted-engine lease is taken by libvirt's sanlock lock manager for the engine VM's qemu (docs/hosted-engine.md,
 * "The lock: sanlock"): qemu.conf selects it. Upstream's libvirt module writes more (TLS for libvirtd, SPICE, display
 * ports, core dumps, user/group); nothing of ours relies on those, so we leave the admin's and the distribution's.
 */
export const QEMU_CONF: SectionFile = {
  path: '/etc/libvirt/qemu.conf',
  entries: [['lock_manager', '"sanlock"']],
  mode: 0o600,
};

/**
 * Only explicit <lease> elements (the engine VM's): no automatic lease per disk, which would need libvirt's own
 * lockspace (host_id, disk_lease_dir), and VMs without a lease still start.
 */
export const QEMU_SANLOCK_CONF: SectionFile = {
  path: '/etc/libvirt/qemu-sanlock.conf',
  entries: [
    ['auto_disk_leases', '0'],
    ['require_lease_for_disks', '0'],
  ],
};

/** vdsmd's user (rpm/vdsmd.service: User=vdsm). */
export const VDSM_USER = 'vdsm';
/** The group the distribution's polkit rule lets use libvirt, where it has one (Debian, Fedora). */
export const LIBVIRT_GROUP = 'libvirt';
const POLKIT_DIRS = ['/etc/polkit-1/rules.d', '/usr/share/polkit-1/rules.d'];

/** A polkit rule that names the vdsm user for org.libvirt.unix.manage (the package ships one where no group does). */
function polkitRuleFor(ctx: ToolContext, user: string): string | undefined {
  for (const dir of POLKIT_DIRS) {
    let names: string[];
    try {
      names = readdirSync(rooted(ctx, dir)).filter((n) => n.endsWith('.rules'));
    } catch {
      continue;
    }
    for (const name of names) {
      const text = readFileSync(rooted(ctx, join(dir, name)), 'utf8');
      if (text.includes('org.libvirt.unix.manage') && text.includes(`"${user}"`)) return join(dir, name);
    }
  }
  return undefined;
}

/**
 * Why vdsmd's user cannot open qemu:///system, and whether adding it to the libvirt group fixes that. libvirt asks
 * polkit about a client of its read-write socket: the package's rule (rpm/10-vdsm-ts-libvirt-access.rules) names
 * vdsm; without it, the distribution's rule for the libvirt group does, where there is one.
 */
function accessProblems(ctx: ToolContext): { problems: string[]; joinGroup: boolean } {
  const accounts = readAccounts(ctx);
  if (!accounts.user(VDSM_USER))
    return { problems: [`user ${VDSM_USER} does not exist (the vdsm-ts package creates it)`], joinGroup: false };
  if (polkitRuleFor(ctx, VDSM_USER) || accounts.groupsOf(VDSM_USER).includes(LIBVIRT_GROUP))
    return { problems: [], joinGroup: false };
  if (accounts.group(LIBVIRT_GROUP))
    return {
      problems: [
        `user ${VDSM_USER} may not use qemu:///system: no polkit rule names it, and it is not in group ${LIBVIRT_GROUP}`,
      ],
      joinGroup: true,
    };
  return {
    problems: [
      `user ${VDSM_USER} may not use qemu:///system: no polkit rule in ${POLKIT_DIRS.join(' or ')} allows it ` +
        `org.libvirt.unix.manage, and there is no group ${LIBVIRT_GROUP}`,
    ],
    joinGroup: false,
  };
}

export const libvirtModule: ToolModule = {
  name: 'libvirt',
  aliases: ['qemu'],
  // virtqemud where libvirt runs as modular daemons; vdsmd picks up a new supplementary group only when it starts.
  services: ['libvirtd', 'virtqemud', 'vdsmd'],
  check: async (ctx) => [
    ...sectionFileProblems(ctx, QEMU_CONF),
    ...sectionFileProblems(ctx, QEMU_SANLOCK_CONF),
    ...accessProblems(ctx).problems,
  ],
  configure: async (ctx) => {
    const done = [configureSectionFile(ctx, QEMU_CONF), configureSectionFile(ctx, QEMU_SANLOCK_CONF)];
    if (accessProblems(ctx).joinGroup) {
      await addToGroups(ctx, VDSM_USER, [LIBVIRT_GROUP]);
      done.push(`user ${VDSM_USER} added to group ${LIBVIRT_GROUP}`);
    }
    return done.filter((d) => d !== undefined);
  },
  // The group membership stays: it is harmless, and the package's user goes with the package.
  remove: async (ctx) =>
    [removeSectionFile(ctx, QEMU_CONF), removeSectionFile(ctx, QEMU_SANLOCK_CONF)].filter((d) => d !== undefined),
};
