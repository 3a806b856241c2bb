/** Where an agent run writes: stdout lines (the contract) and timestamped stderr log lines (free text). */
import { escapeXml } from './xml.js';
export interface FenceIo {
  out(line: string): void;
  err(text: string): void;
  /**
   * In process (Host.fenceNode): info and debug lines, the device dialogue included, go here whatever the
   * verbosity (vdsmd's own log level decides), instead of stderr. Errors and warnings still go to `err`.
   */
  debug?(message: string): void;
  /**
   * Standalone only: opens `--debug-file` for appending and returns its writer. Absent in process, where a path
   * from the engine must not name a file for vdsmd to write.
   */
  openDebugFile?(path: string): (text: string) => void;
}

export interface FenceLog {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export interface LogSinks {
  /** -v / verbose_level: info and debug lines to stderr too. */
  verbosity: number;
  /** -q: nothing to stderr. */
  quiet: boolean;
  /** -D: every line, whatever -v and -q say. */
  file?: (text: string) => void;
  /** The secret values to mask wherever they show up (read at each line: a password script may add one). */
  secrets: () => Iterable<string>;
}

const MASK = '********';

/** `text` with every secret masked, as given and in the XML-escaped form RIBCL carries it in. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === '') continue;
    for (const form of new Set([secret, escapeXml(secret)])) out = out.split(form).join(MASK);
  }
  return out;
}

/** ClusterLabs' format: `YYYY-MM-DD HH:MM:SS,mmm LEVEL: message`. Errors always; the rest per verbosity. */
export function createFenceLog(io: FenceIo, sinks: LogSinks): FenceLog {
  // Errors and warnings are our own sentences, which never quote a secret; the detail carries the device's words
  // (and echoes), so it is masked: a short password may mangle some of it, never leak.
  const line = (level: string, message: string, toStderr: boolean) => {
    const d = new Date();
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
    const text = `${stamp} ${level}: ${message}\n`;
    if (toStderr && !sinks.quiet) io.err(text);
    sinks.file?.(text);
  };
  // In process the detail goes to vdsmd's log; standalone to stderr with -v. The debug file always gets it.
  const detail = (level: string) => (m: string) => {
    const text = redact(m, sinks.secrets());
    if (!io.debug) return line(level, text, sinks.verbosity >= 1);
    io.debug(text);
    line(level, text, false);
  };
  return {
    error: (m) => line('ERROR', m, true),
    warn: (m) => line('WARNING', m, true),
    info: detail('INFO'),
    debug: detail('DEBUG'),
  };
}
