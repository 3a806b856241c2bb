import { CLIENT_COMMANDS, type Frame, StompProtocolError, unescapeHeader } from './frame.js';

export interface ParserLimits {
  /** Largest header block (command + headers) accepted, in bytes. */
  maxHeaderBytes: number;
  /** Largest body accepted, in bytes. */
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxHeaderBytes: 64 * 1024, maxBodyBytes: 8 * 1024 * 1024 };

const NL = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

/**
 * Streaming STOMP 1.2 frame parser: feed it socket chunks in any split, get whole frames. Handles frames split
 * across reads and many frames in one read, `content-length` and NUL-terminated bodies, CRLF line ends,
 * header escapes and heart-beat EOLs between frames. A violation throws StompProtocolError; after that the
 * parser must not be fed again.
 */
export class StompParser {
  private chunks: Buffer[] = [];
  private length = 0;
  /** Set while a frame's head is parsed and its body is awaited. */
  private pending: { command: string; headers: Record<string, string>; contentLength: number } | null = null;
  /** Bytes of the current body already searched for NUL (bodies without content-length). */
  private scanned = 0;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly limits: ParserLimits = DEFAULT_LIMITS,
    /** Called for each heart-beat EOL seen between frames. */
    private readonly onHeartbeat: () => void = () => {},
    /** Commands accepted; a client-side parser passes the server's commands. */
    private readonly commands: ReadonlySet<string> = CLIENT_COMMANDS,
  ) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (this.length > 0 && (this.pending ? this.readBody() : this.readHead()));
  }

  private flatten(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0]!;
  }

  private consume(n: number): void {
    const buf = this.chunks[0]!;
    this.length -= n;
    this.chunks = this.length > 0 ? [buf.subarray(n)] : [];
  }

  /** Returns true when progress was made and more may follow. */
  private readHead(): boolean {
    const buf = this.flatten();
    let start = 0;
    while (start < buf.length && (buf[start] === NL || (buf[start] === CR && buf[start + 1] === NL))) {
      start += buf[start] === NL ? 1 : 2;
      this.onHeartbeat();
    }
    if (start > 0) {
      this.consume(start);
      return this.length > 0;
    }
    if (buf[0] === CR && buf.length === 1) return false;
    const end = findBlankLine(buf, this.limits.maxHeaderBytes);
    if (end < 0) {
      if (buf.length > this.limits.maxHeaderBytes) {
        throw new StompProtocolError(`header block larger than ${this.limits.maxHeaderBytes} bytes`);
      }
      return false;
    }
    this.pending = parseHead(buf.toString('utf8', 0, end), this.limits, this.commands);
    this.consume(end + blankLineLength(buf, end));
    this.scanned = 0;
    return true;
  }

  private readBody(): boolean {
    const { command, headers, contentLength } = this.pending!;
    let bodyLength: number;
    if (contentLength >= 0) {
      if (this.length < contentLength + 1) return false;
      const buf = this.flatten();
      if (buf[contentLength] !== NUL) {
        throw new StompProtocolError(`frame body is not followed by NUL after content-length ${contentLength}`);
      }
      bodyLength = contentLength;
    } else {
      const nul = this.findNul();
      if (nul < 0) {
        if (this.length > this.limits.maxBodyBytes) {
          throw new StompProtocolError(`frame body larger than ${this.limits.maxBodyBytes} bytes`);
        }
        return false;
      }
      bodyLength = nul;
    }
    // A view, not a copy: frames are short-lived (a request body becomes a string at once).
    const body = this.flatten().subarray(0, bodyLength);
    this.consume(bodyLength + 1);
    this.pending = null;
    this.onFrame({ command, headers, body });
    return true;
  }

  /** Searches only the bytes not searched before, so a body arriving in many reads costs linear time. */
  private findNul(): number {
    let offset = 0;
    for (const chunk of this.chunks) {
      if (offset + chunk.length > this.scanned) {
        const at = chunk.indexOf(NUL, Math.max(0, this.scanned - offset));
        if (at >= 0) return offset + at;
      }
      offset += chunk.length;
    }
    this.scanned = offset;
    return -1;
  }
}

/** Offset of the EOL that ends the header block (the line before an empty line), or -1. */
function findBlankLine(buf: Buffer, limit: number): number {
  let at = buf.indexOf(NL);
  while (at >= 0 && at <= limit) {
    const next = buf[at + 1];
    if (next === NL || (next === CR && buf[at + 2] === NL)) return at + 1;
    if (next === undefined || (next === CR && at + 2 >= buf.length)) return -1;
    at = buf.indexOf(NL, at + 1);
  }
  return -1;
}

function blankLineLength(buf: Buffer, end: number): number {
  return buf[end] === NL ? 1 : 2;
}

function parseHead(head: string, limits: ParserLimits, commands: ReadonlySet<string>) {
  let eol = head.indexOf('\n');
  const command = stripCr(head.slice(0, eol));
  if (!commands.has(command)) {
    throw new StompProtocolError(`unknown command ${JSON.stringify(command.slice(0, 40))}`);
  }
  const escaped = command !== 'CONNECT' && command !== 'STOMP' && command !== 'CONNECTED';
  const headers: Record<string, string> = {};
  for (let start = eol + 1; start < head.length; start = eol + 1) {
    eol = head.indexOf('\n', start);
    if (eol < 0) eol = head.length;
    const line = stripCr(head.slice(start, eol));
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw new StompProtocolError(`header line without ':' (${JSON.stringify(line.slice(0, 40))})`);
    // The engine does not escape header values, so a raw ':' inside a value is tolerated (split at the first).
    const key = escaped ? unescapeHeader(line.slice(0, colon)) : line.slice(0, colon);
    if (key in headers) continue;
    headers[key] = escaped ? unescapeHeader(line.slice(colon + 1)) : line.slice(colon + 1);
  }
  let contentLength = -1;
  const cl = headers['content-length'];
  if (cl !== undefined) {
    contentLength = parseContentLength(cl);
    if (contentLength > limits.maxBodyBytes) {
      throw new StompProtocolError(`frame body of ${contentLength} bytes exceeds the limit of ${limits.maxBodyBytes}`);
    }
  }
  return { command, headers, contentLength };
}

function parseContentLength(text: string): number {
  const t = text.trim();
  if (t.length === 0 || t.length > 10) throw new StompProtocolError(`invalid content-length ${JSON.stringify(text)}`);
  let n = 0;
  for (let i = 0; i < t.length; i++) {
    const d = t.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new StompProtocolError(`invalid content-length ${JSON.stringify(text)}`);
    n = n * 10 + d;
  }
  return n;
}

function stripCr(line: string): string {
  return line.charCodeAt(line.length - 1) === CR ? line.slice(0, -1) : line;
}
