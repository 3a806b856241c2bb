import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseIni } from 'ini';
import { ConfigError } from './config-error.js';

/** One INI file as read: section -> key -> value. */
export interface ConfigLayer {
  file: string;
  sections: Record<string, Record<string, unknown> | undefined>;
}

/**
 * Where vdsm also looks for drop-ins of /etc/vdsm/vdsm.conf: the vendor's (a package's) and the run-time ones. Their
 * files are sorted together with the admin's (`/etc/vdsm/vdsm.conf.d`) by file name, so `90-x.conf` from a package
 * still overrides an admin's `50-y.conf`: the name, not the directory, orders them.
 */
export const VENDOR_DROP_IN_DIRS = ['/usr/lib/vdsm/vdsm.conf.d', '/run/vdsm/vdsm.conf.d'];

/**
 * The config file, then its drop-ins (`*.conf` of `vendorDirs` and `FILE.d`, by file name): as vdsm, a later file
 * overrides an earlier one key by key, so a package or an admin can change one setting without editing vdsm.conf.
 */
export function readConfigLayers(file: string, vendorDirs: readonly string[] = []): ConfigLayer[] {
  const dropIns = [...vendorDirs, `${file}.d`]
    .flatMap((dir) => dropInsIn(dir).map((name) => ({ name, path: join(dir, name) })))
    // A stable sort: a name present in two directories applies in directory order (the admin's last).
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [readLayer(file, 'config file'), ...dropIns.map((d) => readLayer(d.path, 'config drop-in'))];
}

function dropInsIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new ConfigError(`cannot read config drop-in directory ${dir}: ${code ?? String(err)}`);
  }
  // Hidden files are left out as vdsm's glob does; plain sort() is lexical by code point, like vdsm's.
  return names.filter((name) => name.endsWith('.conf') && !name.startsWith('.'));
}

function readLayer(file: string, what: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  checkLines(text, `${what} ${file}`);
  return { file, sections: parseIni(text) as ConfigLayer['sections'] };
}

/**
 * Refuses what the INI parser would silently misread (a key without "=", a key before any [section]), as
 * vdsm's parser refuses it, instead of leaving a setting at its default.
 */
function checkLines(text: string, where: string): void {
  let inSection = false;
  text.split(/\r?\n/).forEach((line, index) => {
    if (/^\s*([;#]|$)/.test(line)) return;
    if (/^\[[^\]]*\]\s*$/.test(line)) {
      inSection = true;
      return;
    }
    const at = `${where} line ${index + 1}`;
    if (!/^[^=]+=/.test(line))
      throw new ConfigError(`${at}: "${line.trim()}" is not a [section], a key = value or a comment`);
    if (!inSection) throw new ConfigError(`${at}: "${line.trim()}" is outside any [section]`);
  });
}
