/**
 * Our settings in another package's `key = value` file (qemu.conf, qemu-sanlock.conf, sanlock.conf): one marked
 * section at the end, so that configure is idempotent and remove-config takes back exactly what configure added. An
 * earlier assignment of one of our keys is commented out with a marker (libvirt and sanlock would otherwise read
 * two values), and the marker lets remove-config restore it as the admin wrote it.
 */

export const SECTION_BEGIN = '## vdsm-ts: begin configuration section (vdsm-tool configure; remove-config removes it)';
export const SECTION_END = '## vdsm-ts: end configuration section';
/** Prefix of an admin's line that our section overrides. */
export const DISABLED = '# vdsm-ts disabled: ';

export type Entries = readonly (readonly [key: string, value: string])[];

const lines = (text: string) => (text === '' ? [] : text.replace(/\n$/, '').split('\n'));
const joinLines = (ls: string[]) => (ls.length === 0 ? '' : `${ls.join('\n')}\n`);
const assigns = (line: string, key: string) => new RegExp(`^\\s*${key}\\s*=`).test(line);

/** The text without our section and with the lines we disabled restored: what the admin had. */
export function withoutSection(text: string): string {
  const kept: string[] = [];
  let inside = false;
  for (const line of lines(text)) {
    if (line === SECTION_BEGIN) inside = true;
    else if (line === SECTION_END) inside = false;
    else if (!inside) kept.push(line.startsWith(DISABLED) ? line.slice(DISABLED.length) : line);
  }
  return joinLines(kept);
}

/** The text with exactly our section: earlier assignments of its keys disabled, the section last. */
export function withSection(text: string, entries: Entries): string {
  const admin = lines(withoutSection(text)).map((line) =>
    entries.some(([key]) => assigns(line, key)) ? `${DISABLED}${line}` : line,
  );
  return joinLines([...admin, SECTION_BEGIN, ...entries.map(([k, v]) => `${k} = ${v}`), SECTION_END]);
}

/**
 * Why `text` does not hold our settings, in words for the admin; [] when it does: our section with exactly `entries`,
 * and no other active assignment of their keys (lines an admin added after our section are fine).
 */
export function sectionProblems(text: string, entries: Entries): string[] {
  const wanted = entries.map(([k, v]) => `${k} = ${v}`).join(', ');
  const all = lines(text);
  const begin = all.indexOf(SECTION_BEGIN);
  if (begin < 0) return [`no vdsm-ts section (${wanted})`];
  const end = all.indexOf(SECTION_END, begin);
  const body = all.slice(begin + 1, end < 0 ? undefined : end);
  if (end < 0 || body.join('\n') !== entries.map(([k, v]) => `${k} = ${v}`).join('\n'))
    return [`its vdsm-ts section is not ${wanted}`];
  const outside = all
    .map((line, index) => ({ line, index }))
    .filter(({ line, index }) => (index < begin || index > end) && entries.some(([key]) => assigns(line, key)));
  return outside.map(
    ({ line, index }) => `line ${index + 1} "${line.trim()}" assigns a key of the vdsm-ts section again`,
  );
}
