/**
 * The hosted-engine shared-storage whiteboard (docs/hosted-engine.md, "The whiteboard"):
 * a codec for the 4 KiB slots (slot 0 = global block, slot n = host n) and a store over one shared file.
 *
 * Compatibility: blocks written here are meant to be read by upstream ovirt-ha-agent and vice versa
 * (parse/feature version 1/1, `|`-separated token line in bytes 0..511, CRC32 rule, NUL padding).
 *
 * `|` inside fields: the token line is split on `|`, so
 * - engine status JSON is written with every `|` escaped as `\u007c` (still valid JSON, decodes to the
 *   same string, and upstream's plain split keeps working); non-ASCII is escaped as well, like Python's
 *   `json.dumps`, so the line stays ASCII;
 * - the decoder is JSON-aware at token 5: a `{...}` object is scanned string/escape-aware, so a raw `|`
 *   inside a JSON string written by another implementation does not shift the following tokens;
 * - a hostname containing `|`, NUL, CR or LF is refused by the encoder (no valid host name contains them,
 *   and no escaping could be undone by upstream readers).
 */
import { constants as fsc } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EngineHealth, EngineVm, GlobalBlock, HostBlock } from './types.js';

/** Bytes per slot (upstream HOST_SEGMENT_BYTES). */
export const SLOT_BYTES = 4096;
/** Bytes of the machine-readable token line at the start of a host slot (METADATA_BLOCK_BYTES). */
export const LINE_BYTES = 512;
/** Lowest version a block is compatible with (token 0). */
export const METADATA_PARSE_VERSION = 1;
/** Highest version a block is compatible with (token 1). */
export const METADATA_FEATURE_VERSION = 1;
/** Value of the CRC token while the CRC is computed. */
export const EMPTY_CRC32 = '00000000';
/** Host ids sanlock can hand out (upstream MAX_HOST_ID_SCAN). */
export const MAX_HOST_ID_LIMIT = 2000;

const MIN_TOKENS = 7;
const CRC_TOKEN = 9;
const EXTRA_BYTES = SLOT_BYTES - LINE_BYTES;

// ------------------------------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the same function as zlib's / binascii's.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of bytes (strings are taken as UTF-8), as an unsigned 32-bit number. */
export function crc32(data: Uint8Array | string): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The CRC token format: 8 lowercase hex digits. */
export function crc32Hex(data: Uint8Array | string): string {
  return crc32(data).toString(16).padStart(8, '0');
}

// ------------------------------------------------------------------------------------------------
// Small helpers

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C `ctime()`-style local time without the newline, e.g. "Tue Oct  7 09:05:03 2025". */
export function ctime(epochSeconds: number): string {
  const d = new Date(Math.trunc(epochSeconds) * 1000);
  if (Number.isNaN(d.getTime())) return '?';
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getDay()] ?? '???'} ${MONTHS[d.getMonth()] ?? '???'} ${String(d.getDate()).padStart(2, ' ')} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`
  );
}

/** Python-int()-like truncation of a finite number to a safe integer; throws otherwise. */
function wholeNumber(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new TypeError(`${name} must be a finite number, got ${String(v)}`);
  const n = Math.trunc(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`${name} out of range: ${v}`);
  return n === 0 ? 0 : n; // no "-0"
}

/** A decimal integer token ("12", " 12", "-3", "+4"), or undefined. */
function parseIntToken(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!/^[+-]?\d{1,16}$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** First-character boolean, like upstream util.to_bool: t/y/1 (true, yes, ...) and f/n/0 (false, no, ...). */
export function parseBool(v: string): boolean | undefined {
  const c = v.trim().charAt(0).toLowerCase();
  if (c === 't' || c === 'y' || c === '1') return true;
  if (c === 'f' || c === 'n' || c === '0') return false;
  return undefined;
}

function stripTrailingNuls(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function preview(s: string, max = 60): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

/** JSON text with Python json.dumps' default look (", " / ": ", ASCII only) and `|` escaped. */
function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e || c === 0x7c) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

/** The engine status token: {"vm": ..., "health": ..., "detail": ...[, "reason": ...]} (upstream key order). */
export function engineStatusJson(e: EngineHealth): string {
  const parts = [
    `"vm": ${jsonString(String(e.vm))}`,
    `"health": ${jsonString(String(e.health))}`,
    `"detail": ${jsonString(String(e.detail))}`,
  ];
  if (e.reason !== undefined) parts.push(`"reason": ${jsonString(String(e.reason))}`);
  return `{${parts.join(', ')}}`;
}

const VM_STATES: ReadonlySet<string> = new Set<EngineVm>(['up', 'down', 'down_unexpected', 'down_missing', 'unknown']);
const HEALTH: ReadonlySet<string> = new Set(['good', 'bad', 'unknown']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Engine status from its JSON token. Unknown `vm`/`health` values (a newer writer) become "unknown"
 * rather than dropping the host: a host whose VM might be up must stay visible to the election.
 */
function parseEngineStatus(token: string): EngineHealth | string {
  let v: unknown;
  try {
    v = JSON.parse(token);
  } catch (e) {
    return `engine status is not valid JSON (${(e as Error).message}): ${preview(token)}`;
  }
  if (!isRecord(v) || typeof v.vm !== 'string')
    return `engine status is not an engine-health object: ${preview(token)}`;
  const health =
    typeof v.health === 'string' && HEALTH.has(v.health) ? (v.health as EngineHealth['health']) : 'unknown';
  const out: EngineHealth = {
    vm: VM_STATES.has(v.vm) ? (v.vm as EngineVm) : 'unknown',
    health,
    detail: typeof v.detail === 'string' ? v.detail : 'unknown',
  };
  if (typeof v.reason === 'string') out.reason = v.reason;
  return out;
}

/**
 * End index (exclusive) of the JSON object/array starting at `start`, scanning strings and escapes;
 * -1 when it does not close, or when a `|` appears outside a string (not JSON, fall back to plain split).
 */
function jsonEnd(s: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let k = start; k < s.length; k++) {
    const c = s[k];
    if (inString) {
      if (c === '\\') k++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return k + 1;
    } else if (c === '|') return -1;
  }
  return -1;
}

/** Split the token line on `|`, keeping a JSON object at token 5 whole. `tokens.join('|') === line`. */
function splitTokens(line: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  for (;;) {
    if (tokens.length === 5 && line[i] === '{') {
      const end = jsonEnd(line, i);
      if (end !== -1 && (end === line.length || line[end] === '|')) {
        tokens.push(line.slice(i, end));
        if (end === line.length) return tokens;
        i = end + 1;
        continue;
      }
    }
    const j = line.indexOf('|', i);
    if (j === -1) {
      tokens.push(line.slice(i));
      return tokens;
    }
    tokens.push(line.slice(i, j));
    i = j + 1;
  }
}

// ------------------------------------------------------------------------------------------------
// Host block codec

/**
 * One host slot: exactly 4096 bytes. Bytes 0..511 are the token line (NUL padded), bytes 512.. the
 * human-readable lines (NUL padded). `timeEpoch` is the wall-clock second at which the host's monotonic
 * clock read 0 (so hostTs + timeEpoch is wall time); it only feeds the "(ctime)" annotations of the
 * human-readable part, which are left out when it is not given (the function stays pure).
 *
 * Numbers are truncated to integers like Python's int(). Throws on: a non-finite number, a host id
 * that is not an integer 1..2000, a hostname with `|`/NUL/CR/LF, a state with NUL/CR/LF, or a token
 * line over 512 bytes.
 */
export function encodeHostBlock(block: HostBlock, timeEpoch?: number): Buffer {
  const hostId = block.hostId;
  if (!Number.isInteger(hostId) || hostId < 1 || hostId > MAX_HOST_ID_LIMIT) {
    throw new RangeError(`hostId must be an integer 1..${MAX_HOST_ID_LIMIT}, got ${hostId}`);
  }
  const ts = wholeNumber('hostTs', block.hostTs);
  const score = wholeNumber('score', block.score);
  const confTs = wholeNumber('localConfTimestamp', block.localConfTimestamp);
  const hostname = String(block.hostname);
  if (/[|\0\r\n]/.test(hostname)) throw new Error(`hostname ${preview(hostname)} contains '|', NUL or a line break`);
  const state = String(block.state);
  if (/[\0\r\n]/.test(state)) throw new Error(`state ${preview(state)} contains NUL or a line break`);

  const tokens = [
    String(METADATA_PARSE_VERSION),
    String(METADATA_FEATURE_VERSION),
    String(ts),
    String(hostId),
    String(score),
    engineStatusJson(block.engineStatus),
    hostname,
    block.maintenance ? '1' : '0',
    block.stopped ? '1' : '0',
    EMPTY_CRC32,
    block.confOnSharedStorage ? '1' : '0',
    String(confTs),
  ];
  tokens[CRC_TOKEN] = crc32Hex(tokens.join('|'));
  const line = Buffer.from(tokens.join('|'), 'utf8');
  if (line.length > LINE_BYTES) {
    throw new Error(`host ${hostId} metadata line too long (${line.length} > ${LINE_BYTES} bytes)`);
  }

  const when = (n: number) =>
    timeEpoch === undefined || !Number.isFinite(timeEpoch) ? `${n}` : `${n} (${ctime(n + timeEpoch)})`;
  const py = (b: boolean) => (b ? 'True' : 'False');
  const extraText =
    `metadata_parse_version=${METADATA_PARSE_VERSION}\n` +
    `metadata_feature_version=${METADATA_FEATURE_VERSION}\n` +
    `timestamp=${when(ts)}\n` +
    `host-id=${hostId}\n` +
    `score=${score}\n` +
    `vm_conf_refresh_time=${when(confTs)}\n` +
    `conf_on_shared_storage=${py(block.confOnSharedStorage)}\n` +
    // the state's own metadata, sorted by key
    `maintenance=${py(block.maintenance)}\n` +
    `state=${state}\n` +
    `stopped=${py(block.stopped)}\n`;
  const extra = Buffer.from(extraText, 'utf8');
  if (extra.length > EXTRA_BYTES)
    throw new Error(`host ${hostId} human-readable metadata too long (${extra.length} > ${EXTRA_BYTES} bytes)`);

  const out = Buffer.alloc(SLOT_BYTES); // zero-filled = NUL padding
  line.copy(out, 0);
  extra.copy(out, LINE_BYTES);
  return out;
}

export interface DecodedHost {
  block: HostBlock;
  /** Bytes 512.. as text, trailing NULs removed (shown by `--vm-status`). */
  extra: string;
}
export interface EmptySlot {
  empty: true;
}
export interface SlotError {
  error: string;
  /** The block's parse version is newer than ours (upstream FatalMetadataError: the agent should stop). */
  tooNew?: true;
}
export type HostDecodeResult = DecodedHost | EmptySlot | SlotError;

/**
 * Parse one host slot. Never throws: an empty slot (first byte NUL) gives `{ empty: true }`, anything
 * unusable gives `{ error }`. Like upstream, tokens after the 7th are optional (older writers), the CRC
 * is checked only when present, and the extra lines are informational (`state=` is taken from them,
 * "" when absent).
 */
export function decodeHostBlock(slot: number, buf: Buffer): HostDecodeResult {
  try {
    return decodeHostBlockUnsafe(slot, buf);
  } catch (e) {
    // Defensive: nothing above is expected to throw.
    return { error: `Malformed metadata for host ${slot}: ${(e as Error).message}` };
  }
}

function decodeHostBlockUnsafe(slot: number, buf: Buffer): HostDecodeResult {
  const bad = (why: string): SlotError => ({ error: `Malformed metadata for host ${slot}: ${why}` });
  if (buf.length > 0 && buf[0] === 0) return { empty: true };
  if (buf.length < LINE_BYTES) return bad(`received ${buf.length} of ${LINE_BYTES} expected bytes`);

  let line: string;
  try {
    line = strictUtf8.decode(stripTrailingNuls(buf.subarray(0, LINE_BYTES)));
  } catch {
    return bad('token line is not valid UTF-8');
  }

  const lead = /^\d+/.exec(line);
  if (!lead) return bad(`non-parsable metadata version in ${preview(line)}`);
  if (Number(lead[0]) > METADATA_FEATURE_VERSION) {
    return {
      error:
        `Metadata version ${lead[0].replace(/^0+(?=\d)/, '')} from host ${slot} too new for this agent ` +
        `(highest compatible version: ${METADATA_FEATURE_VERSION})`,
      tooNew: true,
    };
  }

  const tokens = splitTokens(line);
  if (tokens.length < MIN_TOKENS) return bad(`received ${tokens.length} of ${MIN_TOKENS} expected tokens`);

  if (tokens.length > CRC_TOKEN) {
    const given = tokens[CRC_TOKEN]!;
    const copy = tokens.slice();
    copy[CRC_TOKEN] = EMPTY_CRC32;
    const want = crc32Hex(copy.join('|'));
    if (given !== want) return bad(`provided checksum ${preview(given, 16)} does not match the data (${want})`);
  }

  const featureVersion = parseIntToken(tokens[1]);
  if (featureVersion === undefined) return bad(`non-parsable metadata feature version ${preview(tokens[1] ?? '')}`);
  if (featureVersion < METADATA_PARSE_VERSION) {
    return {
      error:
        `Metadata version ${featureVersion} from host ${slot} too old for this agent ` +
        `(lowest compatible version: ${METADATA_PARSE_VERSION})`,
    };
  }

  const ints: Record<string, number> = {};
  const fields: [string, number][] = [
    ['timestamp', 2],
    ['host id', 3],
    ['score', 4],
  ];
  for (const [name, idx] of fields) {
    const n = parseIntToken(tokens[idx]);
    if (n === undefined) return bad(`${name} ${preview(tokens[idx] ?? '')} is not an integer`);
    ints[name] = n;
  }
  if (ints['host id'] !== slot) return bad(`block claims host id ${ints['host id']} but sits in slot ${slot}`);

  const flag = (name: string, idx: number): boolean | string => {
    if (tokens.length <= idx) return false;
    const n = parseIntToken(tokens[idx]);
    return n === undefined ? `${name} flag ${preview(tokens[idx] ?? '')} is not an integer` : n > 0;
  };
  const maintenance = flag('maintenance', 7);
  const stopped = flag('stopped', 8);
  const confOnShared = flag('conf_on_shared_storage', 10);
  for (const f of [maintenance, stopped, confOnShared]) if (typeof f === 'string') return bad(f);
  let localConfTimestamp = 0;
  if (tokens.length > 11) {
    const n = parseIntToken(tokens[11]);
    if (n === undefined) return bad(`local_conf_timestamp ${preview(tokens[11] ?? '')} is not an integer`);
    localConfTimestamp = n;
  }

  const engine = parseEngineStatus(tokens[5]!);
  if (typeof engine === 'string') return bad(engine);

  const extra = stripTrailingNuls(buf.subarray(LINE_BYTES, SLOT_BYTES)).toString('utf8');
  const stateLine = /^state=(.*)$/m.exec(extra);

  return {
    block: {
      hostId: slot,
      hostTs: ints.timestamp!,
      score: ints.score!,
      engineStatus: engine,
      hostname: tokens[6]!,
      maintenance: maintenance as boolean,
      stopped: stopped as boolean,
      confOnSharedStorage: confOnShared as boolean,
      localConfTimestamp,
      state: stateLine?.[1] ?? '',
    },
    extra,
  };
}

// ------------------------------------------------------------------------------------------------
// Global block codec (slot 0)

/** Slot 0 as text: `maintenance=1` or `maintenance=0` (upstream's form, no trailing newline), NUL padded. */
export function encodeGlobalBlock(g: GlobalBlock): Buffer {
  const out = Buffer.alloc(SLOT_BYTES);
  out.write(`maintenance=${g.maintenance ? 1 : 0}`, 0, 'utf8');
  return out;
}

export interface DecodedGlobal extends GlobalBlock {
  /** What was wrong with the block (unknown keys, bad values, ...); empty for a clean or empty block. */
  warnings: string[];
}

const MAX_WARNINGS = 20;

/**
 * Parse slot 0 (never throws). `key=value` lines; `maintenance` is a first-character boolean
 * (t/y/1 ... / f/n/0 ...); unknown keys and malformed lines are reported in `warnings`; an invalid
 * maintenance value counts as false. An empty slot (first byte NUL) is `{ maintenance: false }`.
 */
export function decodeGlobalBlock(buf: Buffer): DecodedGlobal {
  const warnings: string[] = [];
  let dropped = 0;
  const warn = (w: string) => {
    if (warnings.length < MAX_WARNINGS) warnings.push(w);
    else dropped++;
  };
  const result: DecodedGlobal = { maintenance: false, warnings };
  if (buf.length === 0 || buf[0] === 0) return result;
  if (buf.length < SLOT_BYTES) warn(`global block is short: ${buf.length} of ${SLOT_BYTES} bytes`);

  const raw = stripTrailingNuls(buf.subarray(0, SLOT_BYTES));
  let text: string;
  try {
    text = strictUtf8.decode(raw);
  } catch {
    warn('global block is not valid UTF-8');
    text = raw.toString('utf8');
  }
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) {
      warn(`invalid global metadata line ${preview(line)}`);
      continue;
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1);
    if (key === 'maintenance') {
      const b = parseBool(value);
      if (b === undefined) {
        warn(`invalid boolean for maintenance: ${preview(value)} (taken as false)`);
        result.maintenance = false;
      } else {
        result.maintenance = b;
      }
    } else {
      warn(`unknown global metadata key ${preview(key)} ignored`);
    }
  }
  if (dropped > 0) warnings.push(`... and ${dropped} more`);
  return result;
}

// ------------------------------------------------------------------------------------------------
// File-backed store

export interface FileWhiteboardOptions {
  /** Highest host id this store reads and writes; the file holds maxHostId + 1 slots. Default 250. */
  maxHostId?: number;
}

export interface WhiteboardProblem {
  slot: number;
  error: string;
  /** Set when a host block has a too-new metadata version (see SlotError.tooNew). */
  tooNew?: true;
}

export interface WhiteboardSnapshot {
  global: GlobalBlock;
  /** host id -> block, for every non-empty, valid host slot. */
  hosts: Map<number, HostBlock>;
  /** host id -> human-readable extra text of the same slots. */
  extras: Map<number, string>;
  /** Slots that could not be used (host blocks) or had warnings (slot 0). */
  problems: WhiteboardProblem[];
}

/** Storage did not hold what was just written to it: a concurrent writer, or a lost write. */
export class WhiteboardReadBackError extends Error {
  override name = 'WhiteboardReadBackError';
}

/**
 * The whiteboard as one file on shared storage (NFS, Gluster, a local path in tests): slot n at
 * n × 4096. Every operation opens the file afresh (NFS close-to-open revalidates cached pages);
 * writes are positioned whole-slot writes with O_DSYNC, so they never touch other slots and are on
 * storage when the promise resolves.
 */
export class FileWhiteboard {
  readonly path: string;
  readonly maxHostId: number;
  private slot0Chain: Promise<unknown> = Promise.resolve();

  constructor(path: string, { maxHostId = 250 }: FileWhiteboardOptions = {}) {
    if (!Number.isInteger(maxHostId) || maxHostId < 1 || maxHostId > MAX_HOST_ID_LIMIT) {
      throw new RangeError(`maxHostId must be an integer 1..${MAX_HOST_ID_LIMIT}, got ${maxHostId}`);
    }
    this.path = path;
    this.maxHostId = maxHostId;
  }

  /** (maxHostId + 1) × 4096. */
  get size(): number {
    return (this.maxHostId + 1) * SLOT_BYTES;
  }

  /**
   * Create the file if missing and extend it (with NULs, i.e. empty slots) to `size`; never shrinks.
   * A non-regular file (a block device) is left alone.
   */
  async ensureSize(): Promise<void> {
    const fh = await open(this.path, fsc.O_RDWR | fsc.O_CREAT, 0o660);
    let extended = false;
    try {
      const st = await fh.stat();
      if (!st.isFile()) return;
      if (st.size < this.size) {
        await fh.truncate(this.size);
        await fh.sync();
        extended = true;
      }
    } finally {
      await fh.close();
    }
    if (extended) await syncDir(dirname(this.path));
  }

  /** All slots 0..maxHostId in one read. Bad slots go to `problems`; only I/O errors throw. */
  async readAll(): Promise<WhiteboardSnapshot> {
    const data = await this.readRange(0, this.size);
    const g = decodeGlobalBlock(data.subarray(0, SLOT_BYTES));
    const problems: WhiteboardProblem[] = g.warnings.map((error) => ({ slot: 0, error }));
    const hosts = new Map<number, HostBlock>();
    const extras = new Map<number, string>();
    for (let slot = 1; slot <= this.maxHostId; slot++) {
      const r = decodeHostBlock(slot, data.subarray(slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES));
      if ('empty' in r) continue;
      if ('error' in r) {
        problems.push(r.tooNew ? { slot, error: r.error, tooNew: true } : { slot, error: r.error });
        continue;
      }
      hosts.set(slot, r.block);
      extras.set(slot, r.extra);
    }
    return { global: { maintenance: g.maintenance }, hosts, extras, problems };
  }

  /** The raw 4096 bytes of one slot (NULs past the end of the file). */
  async readSlot(slot: number): Promise<Buffer> {
    this.checkSlot(slot, 0);
    return this.readRange(slot * SLOT_BYTES, SLOT_BYTES);
  }

  /** Publish a host block into slot block.hostId (durable on return). */
  async writeHost(block: HostBlock, timeEpoch?: number): Promise<void> {
    this.checkSlot(block.hostId, 1);
    await this.writeSlot(block.hostId, encodeHostBlock(block, timeEpoch));
  }

  /** Empty a host slot (all NULs), as `--clean-metadata` does. */
  async clearHost(hostId: number): Promise<void> {
    this.checkSlot(hostId, 1);
    await this.writeSlot(hostId, Buffer.alloc(SLOT_BYTES));
  }

  /**
   * Read-modify-write of slot 0 (a corrupt block is rewritten from scratch), durable, then read back:
   * throws if storage does not hold the requested value afterwards (a concurrent writer, a lost write).
   * Calls on one instance are serialized.
   */
  async setGlobalMaintenance(on: boolean): Promise<void> {
    const run = this.slot0Chain.then(async () => {
      const { warnings: _ignored, ...current } = decodeGlobalBlock(await this.readRange(0, SLOT_BYTES));
      await this.writeSlot(0, encodeGlobalBlock({ ...current, maintenance: on }));
      const back = decodeGlobalBlock(await this.readRange(0, SLOT_BYTES));
      if (back.maintenance !== on) {
        throw new WhiteboardReadBackError(
          `global maintenance read back as ${back.maintenance} after writing ${on} to ${this.path}` +
            (back.warnings.length ? ` (${back.warnings.join('; ')})` : ''),
        );
      }
    });
    this.slot0Chain = run.catch(() => undefined);
    return run;
  }

  private checkSlot(slot: number, min: number): void {
    if (!Number.isInteger(slot) || slot < min || slot > this.maxHostId) {
      throw new RangeError(`slot must be an integer ${min}..${this.maxHostId}, got ${slot}`);
    }
  }

  private async readRange(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length); // whatever lies past EOF reads as NUL = empty
    const fh = await open(this.path, fsc.O_RDONLY);
    try {
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return buf;
  }

  private async writeSlot(slot: number, data: Buffer): Promise<void> {
    if (data.length !== SLOT_BYTES) throw new Error(`slot data must be ${SLOT_BYTES} bytes, got ${data.length}`);
    const dsync: number | undefined = fsc.O_DSYNC;
    // No O_CREAT: the file is provisioned (ensureSize / setup), a missing file is an error.
    const fh: FileHandle = await open(this.path, fsc.O_WRONLY | (dsync ?? 0));
    try {
      const base = slot * SLOT_BYTES;
      let done = 0;
      while (done < SLOT_BYTES) {
        const { bytesWritten } = await fh.write(data, done, SLOT_BYTES - done, base + done);
        if (bytesWritten <= 0) throw new Error(`short write to ${this.path} at offset ${base + done}`);
        done += bytesWritten;
      }
      if (dsync === undefined) await fh.datasync();
    } finally {
      await fh.close();
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, fsc.O_RDONLY);
    await fh.sync();
  } catch {
    // Not every filesystem lets a directory be fsync'd; the file's own data is already synced.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
