import { readFileSync } from 'node:fs';
import { rooted, runChecked, ToolError, type ToolContext } from './context.js';

/**
 * Users and groups as the root's /etc/passwd and /etc/group hold them (not NSS: a scratch root in tests, and the
 * local files are where useradd and usermod write on a host).
 */
export interface Accounts {
  user(name: string): { uid: number; gid: number } | undefined;
  group(name: string): { gid: number; members: string[] } | undefined;
  groupName(gid: number): string | undefined;
  /** Names of the groups `user` belongs to: its primary group and every group listing it. */
  groupsOf(user: string): string[];
}

function table(ctx: ToolContext, file: string): string[][] {
  let text: string;
  try {
    text = readFileSync(rooted(ctx, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

export function readAccounts(ctx: ToolContext): Accounts {
  const users = new Map(table(ctx, '/etc/passwd').map((f) => [f[0]!, { uid: Number(f[2]), gid: Number(f[3]) }]));
  const groups = table(ctx, '/etc/group').map((f) => ({
    name: f[0]!,
    gid: Number(f[2]),
    members: (f[3] ?? '').split(',').filter(Boolean),
  }));
  return {
    user: (name) => users.get(name),
    group: (name) => groups.find((g) => g.name === name),
    groupName: (gid) => groups.find((g) => g.gid === gid)?.name,
    groupsOf: (name) => {
      const primary = users.get(name)?.gid;
      return groups.filter((g) => g.gid === primary || g.members.includes(name)).map((g) => g.name);
    },
  };
}

/** Adds `user` to `groups` (usermod -a -G; with --prefix under a scratch root, so /etc/group there changes). */
export async function addToGroups(ctx: ToolContext, user: string, groups: string[]): Promise<void> {
  const prefix = ctx.root === '/' ? [] : ['--prefix', ctx.root];
  await runChecked(ctx, 'usermod', [...prefix, '-a', '-G', groups.join(','), user]);
}

/** The user's ids, or a ToolError saying which package should have made it. */
export function requireUser(accounts: Accounts, name: string, madeBy: string): { uid: number; gid: number } {
  const user = accounts.user(name);
  if (!user) throw new ToolError(`user ${name} does not exist (${madeBy} creates it)`);
  return user;
}
