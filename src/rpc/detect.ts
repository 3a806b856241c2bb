import type { Socket } from 'node:net';
import { ALL_COMMANDS } from './stomp/frame.js';

export type Protocol = 'stomp' | 'http' | 'unknown' | 'timeout' | 'closed';

/** Every request line we answer (/metrics and /health take GET and HEAD; the others get 405 or 404). */
const HTTP_PREFIXES = ['GET /', 'HEAD /', 'POST /', 'PUT /', 'DELETE /', 'PATCH /', 'OPTIONS /'];
const MAX_HEAD_BYTES = 4096;
const CANDIDATES = [...ALL_COMMANDS.map((c) => c + '\n'), ...ALL_COMMANDS.map((c) => c + '\r\n'), ...HTTP_PREFIXES];

function classify(head: string): Protocol | null {
  let possible = false;
  for (const candidate of CANDIDATES) {
    if (head.startsWith(candidate)) return HTTP_PREFIXES.includes(candidate) ? 'http' : 'stomp';
    if (candidate.startsWith(head)) possible = true;
  }
  return possible ? null : 'unknown';
}

/**
 * Reads the first bytes of a connection until they show which protocol it speaks (one port serves several,
 * as vdsm's protocol detector does). STOMP frames may be preceded by heart-beat EOLs. Unlike vdsm, which waits
 * for 11 bytes, we decide as soon as the bytes are unambiguous, so a short first frame is not held up.
 * Resolves with the bytes read so far, which the protocol handler must consume first; the socket is paused.
 */
export function detectProtocol(socket: Socket, timeoutMs: number): Promise<{ protocol: Protocol; head: Buffer }> {
  return new Promise((resolve) => {
    let head: Buffer = Buffer.alloc(0);
    const finish = (protocol: Protocol) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      resolve({ protocol, head });
    };
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      // A few heart-beat EOLs before the first frame are fine; a flood of them is not a protocol. A first read of
      // any size that starts with a frame is STOMP, however much follows it.
      const eols = head.findIndex((b) => b !== 0x0a && b !== 0x0d);
      if (eols < 0) return head.length > MAX_HEAD_BYTES ? finish('unknown') : undefined;
      if (eols > MAX_HEAD_BYTES) return finish('unknown');
      const protocol = classify(head.toString('latin1', eols, Math.min(head.length, eols + 32)));
      if (protocol) finish(protocol);
      else if (head.length - eols > 64) finish('unknown');
    };
    const onClose = () => finish('closed');
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}
