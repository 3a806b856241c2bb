/** Where an agent run writes: stdout lines (the contract) and timestamped stderr log lines (free text). */
export interface FenceIo {
  out(line: string): void;
  err(text: string): void;
}

export interface FenceLog {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** ClusterLabs' stderr format: `YYYY-MM-DD HH:MM:SS,mmm LEVEL: message`. Errors always; the rest per verbosity. */
export function createFenceLog(io: FenceIo, verbosity: number, quiet: boolean): FenceLog {
  const line = (level: string, message: string) => {
    const d = new Date();
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
    io.err(`${stamp} ${level}: ${message}\n`);
  };
  return {
    error: (m) => quiet || line('ERROR', m),
    warn: (m) => quiet || line('WARNING', m),
    info: (m) => (quiet || verbosity < 1 ? undefined : line('INFO', m)),
    debug: (m) => (quiet || verbosity < 1 ? undefined : line('DEBUG', m)),
  };
}
