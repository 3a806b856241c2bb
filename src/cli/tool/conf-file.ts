import { chownSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { rooted, type ToolContext } from './context.js';
import { type Entries, sectionProblems, withoutSection, withSection } from './conf-section.js';

/** Where the previous content of a file we change is kept (one backup, of the content right before the change). */
export const backupOf = (file: string) => `${file}.vdsm-ts.bak`;

/** A file's text, or null when it does not exist. */
export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Replaces the file's content: the previous content goes to its backup first, then the new one is renamed into place
 * (never half written), with the old file's mode and owner (qemu.conf is 0600 on some distributions).
 */
function replace(path: string, previous: string | null, text: string, newMode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const old = previous === null ? undefined : statSync(path);
  if (previous !== null) writeFileSync(backupOf(path), previous, { mode: old!.mode & 0o777 });
  const tmp = `${path}.vdsm-ts.tmp`;
  writeFileSync(tmp, text, { mode: old ? old.mode & 0o777 : newMode });
  if (old && (old.uid !== process.getuid?.() || old.gid !== process.getgid?.())) chownSync(tmp, old.uid, old.gid);
  renameSync(tmp, path);
}

/** One file that holds a section of ours: what its check, configure and remove-config say and do. */
export interface SectionFile {
  /** The host path, e.g. /etc/libvirt/qemu.conf. */
  path: string;
  entries: Entries;
  /** Mode of the file when configure has to create it. */
  mode?: number;
}

export function sectionFileProblems(ctx: ToolContext, file: SectionFile): string[] {
  const text = readText(rooted(ctx, file.path));
  if (text === null) return [`${file.path}: missing`];
  return sectionProblems(text, file.entries).map((p) => `${file.path}: ${p}`);
}

/** Writes our section unless the file already holds it; what it did, for the output. */
export function configureSectionFile(ctx: ToolContext, file: SectionFile): string | undefined {
  const path = rooted(ctx, file.path);
  const text = readText(path);
  if (text !== null && sectionProblems(text, file.entries).length === 0) return undefined;
  replace(path, text, withSection(text ?? '', file.entries), file.mode ?? 0o644);
  return text === null
    ? `${file.path}: created with the vdsm-ts section`
    : `${file.path}: vdsm-ts section written (previous content in ${backupOf(file.path)})`;
}

/** Takes our section out and restores what it disabled; a file that held nothing else is removed. */
export function removeSectionFile(ctx: ToolContext, file: Pick<SectionFile, 'path'>): string | undefined {
  const path = rooted(ctx, file.path);
  const text = readText(path);
  if (text === null) return undefined;
  const rest = withoutSection(text);
  if (rest === text) return undefined;
  if (rest === '') {
    rmSync(path);
    return `${file.path}: removed (it held only the vdsm-ts section)`;
  }
  replace(path, text, rest, 0o644);
  return `${file.path}: vdsm-ts section removed (previous content in ${backupOf(file.path)})`;
}
