import { readFileSync } from 'node:fs';
import { hostUuid } from '../../../host/osinfo.js';
import { addToGroups, readAccounts, type Accounts } from '../accounts.js';
import {
  configureSectionFile,
  readText,
  removeSectionFile,
  sectionFileProblems,
  type SectionFile,
} from '../conf-file.js';
import { rooted, type ToolContext } from '../context.js';
import { QEMU_CONF, VDSM_USER } from './libvirt.js';
import type { ToolModule } from './module.js';

export const SANLOCK_USER = 'sanlock';
/** oVirt's disk image group (vdsm:kvm, gid 36 on oVirt hosts): images and leases on shared storage. */
export const DISK_GROUP = 'kvm';
const PID_FILE = '/run/sanlock/sanlock.pid';
const SANLOCK_CONF = '/etc/sanlock/sanlock.conf';

/**
 * A constant name for this host's sanlock daemon, as upstream sets it: without one sanlock makes up a new name at every
 * start, and after an unclean shutdown must then wait for its old host-id lease to expire before it can join the
 * hosted-engine lockspace again (upstream measured 3 times slower). Upstream also raises max_worker_threads for
 * hosts with dozens of storage domains; we have one lockspace, so we leave sanlock's default.
 */
export async function sanlockConf(ctx: ToolContext): Promise<SectionFile | string> {
  const uuid = await hostUuid(ctx.root === '/' ? '' : ctx.root);
  if (!uuid) return 'no host UUID for our_host_name (/etc/vdsm/vdsm.id, the DMI product UUID or /etc/machine-id)';
  return { path: SANLOCK_CONF, entries: [['our_host_name', uuid]] };
}

/** The group QEMU processes run as: qemu.conf's `group`, else the distribution's (qemu on EL, libvirt-qemu on Debian). */
function qemuGroup(ctx: ToolContext, accounts: Accounts): string | undefined {
  const set = /^\s*group\s*=\s*"([^"]+)"/m.exec(readText(rooted(ctx, QEMU_CONF.path)) ?? '');
  return set?.[1] ?? ['qemu', 'libvirt-qemu'].find((g) => accounts.group(g));
}

/**
 * The groups sanlock needs to open lease files: kvm (oVirt storage), the vdsm user's group (the hosted-engine broker
 * creates the lockspace and lease 0660 as vdsm) and QEMU's (disk images libvirt gave to qemu). Upstream requires its
 * qemu and kvm groups, which are these on an EL host where vdsm's group is kvm.
 */
function requiredGroups(ctx: ToolContext, accounts: Accounts): string[] {
  const vdsmGid = accounts.user(VDSM_USER)?.gid;
  const vdsmGroup = vdsmGid === undefined ? undefined : accounts.groupName(vdsmGid);
  return [...new Set([DISK_GROUP, vdsmGroup, qemuGroup(ctx, accounts)])].filter(
    (g): g is string => g !== undefined && accounts.group(g) !== undefined,
  );
}

function missingGroups(ctx: ToolContext): { missing: string[]; problems: string[] } {
  const accounts = readAccounts(ctx);
  if (!accounts.user(SANLOCK_USER))
    return { missing: [], problems: [`user ${SANLOCK_USER} does not exist (the sanlock package creates it)`] };
  const has = accounts.groupsOf(SANLOCK_USER);
  const missing = requiredGroups(ctx, accounts).filter((g) => !has.includes(g));
  return {
    missing,
    problems: missing.length
      ? [`user ${SANLOCK_USER} is not in group${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`]
      : [],
  };
}

/** The running daemon keeps the groups it started with: say so when it lacks some of what /etc/group now gives. */
function daemonNote(ctx: ToolContext): string | undefined {
  const pid = readText(rooted(ctx, PID_FILE))?.trim();
  if (!pid || !/^\d+$/.test(pid)) return undefined;
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const gids = (/^Groups:\s*(.*)$/m.exec(status)?.[1] ?? '').split(/\s+/).filter(Boolean).map(Number);
  const accounts = readAccounts(ctx);
  const lacking = requiredGroups(ctx, accounts).filter((g) => !gids.includes(accounts.group(g)!.gid));
  return lacking.length
    ? `the running sanlock daemon (pid ${pid}) lacks group${lacking.length > 1 ? 's' : ''} ${lacking.join(', ')} ` +
        'until it restarts: restart sanlock once it holds no lockspace (systemctl restart sanlock)'
    : undefined;
}

export const sanlockModule: ToolModule = {
  name: 'sanlock',
  // None: restarting sanlock would drop the lockspaces it holds and kill the VMs whose leases it guards, so we never
  // do it (upstream stops it under --force); configure says when the running daemon needs a restart.
  services: [],
  check: async (ctx) => {
    const conf = await sanlockConf(ctx);
    return [...missingGroups(ctx).problems, ...(typeof conf === 'string' ? [conf] : sectionFileProblems(ctx, conf))];
  },
  configure: async (ctx) => {
    const done: string[] = [];
    const { missing } = missingGroups(ctx);
    if (missing.length) {
      await addToGroups(ctx, SANLOCK_USER, missing);
      done.push(`user ${SANLOCK_USER} added to group${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    }
    const conf = await sanlockConf(ctx);
    const wrote = typeof conf === 'string' ? undefined : configureSectionFile(ctx, conf);
    if (wrote) done.push(wrote);
    const note = daemonNote(ctx);
    if (note) done.push(note);
    return done;
  },
  // Group memberships stay (other packages may rely on them, as upstream leaves them); our sanlock.conf lines go.
  remove: async (ctx) => {
    const removed = removeSectionFile(ctx, { path: SANLOCK_CONF });
    return removed ? [removed] : [];
  },
};
