/** A STOMP 1.2 frame. Headers keep the first occurrence of a repeated name, as STOMP 1.2 requires. */
export interface Frame {
  command: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Client frames we understand. `STOMP` is STOMP 1.2's alias of CONNECT (vdsm lacks it; accepting it is harmless). */
export const CLIENT_COMMANDS = new Set([
  'CONNECT',
  'STOMP',
  'SEND',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'DISCONNECT',
  'ACK',
  'NACK',
  'BEGIN',
  'COMMIT',
  'ABORT',
]);

export const SERVER_COMMANDS = new Set(['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR']);

/** Every command name STOMP 1.2 defines, client and server side; the protocol detector matches these. */
export const ALL_COMMANDS = [...CLIENT_COMMANDS, ...SERVER_COMMANDS];

export class StompProtocolError extends Error {
  override name = 'StompProtocolError';
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', ':': '\\c' };
const NEEDS_ESCAPE = /[\\\n\r:]/;

export function escapeHeader(text: string): string {
  return NEEDS_ESCAPE.test(text) ? text.replace(/[\\\n\r:]/g, (c) => ESCAPES[c]!) : text;
}

const UNESCAPES: Record<string, string> = { '\\\\': '\\', '\\n': '\n', '\\r': '\r', '\\c': ':' };

export function unescapeHeader(text: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\(.?)/gs, (seq) => {
    const plain = UNESCAPES[seq];
    if (plain === undefined) throw new StompProtocolError(`undefined escape sequence ${JSON.stringify(seq)} in header`);
    return plain;
  });
}

/**
 * Serialises a frame. Every frame we send carries `content-length` (the engine's reader needs it) and the
 * header block stays small. CONNECTED is not escaped, as STOMP 1.2 says for CONNECT/CONNECTED.
 */
export function encodeFrame(command: string, headers: Record<string, string>, body: string | Buffer = ''): Buffer {
  const escape = command === 'CONNECTED' ? (s: string) => s : escapeHeader;
  const bodyBuf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let head = command + '\n';
  for (const key in headers) head += escape(key) + ':' + escape(headers[key]!) + '\n';
  if (bodyBuf.length > 0 || command === 'MESSAGE' || command === 'ERROR')
    head += 'content-length:' + bodyBuf.length + '\n';
  head += '\n';
  const headBuf = Buffer.from(head, 'utf8');
  const out = Buffer.allocUnsafe(headBuf.length + bodyBuf.length + 1);
  headBuf.copy(out, 0);
  bodyBuf.copy(out, headBuf.length);
  out[out.length - 1] = 0;
  return out;
}

/**
 * The oVirt engine's client library reads a frame's start into a 1,024-byte buffer and hands over only the first
 * frame it finds there; the bytes after it wait until a later read brings new bytes (see docs/protocol.md, "Frames
 * the engine can read"). A frame at least this long never shares a read with the frame after it.
 */
export const ENGINE_READ_BYTES = 1024;

/** Trailing JSON whitespace: any JSON reader ignores it, and it keeps the engine's reads to one frame each. */
const PADDING = ' '.repeat(ENGINE_READ_BYTES);

/**
 * The hot path: a MESSAGE frame carrying a JSON text, built as one string (one conversion, one write).
 * Header order is vdsm's: destination, content-type, subscription, content-length. A frame shorter than
 * `minBytes` gets its body padded with spaces up to that length.
 */
export function encodeJsonMessage(destination: string, subscription: string, json: string, minBytes = 0): string {
  const head =
    'MESSAGE\ndestination:' +
    escapeHeader(destination) +
    '\ncontent-type:application/json\nsubscription:' +
    escapeHeader(subscription) +
    '\ncontent-length:';
  let bodyBytes = Buffer.byteLength(json, 'utf8');
  // head, content-length digits, blank line, body, NUL. Padding can only add digits, never make it shorter.
  const short = minBytes - (Buffer.byteLength(head, 'utf8') + String(bodyBytes).length + 2 + bodyBytes + 1);
  if (short > 0) {
    json += PADDING.slice(0, short);
    bodyBytes += short;
  }
  return head + bodyBytes + '\n\n' + json + '\0';
}
