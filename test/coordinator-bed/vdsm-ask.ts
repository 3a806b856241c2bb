/**
 * One JSON-RPC call to a bed host's vdsmd over mutual TLS, on a connection of its own, bounded: when the time is up
 * the socket is destroyed (a frozen vdsmd still completes the TCP handshake in its kernel, then never answers; a
 * polite close would wait for it forever). No vitest here.
 */
import { randomUUID } from 'node:crypto';
import tls from 'node:tls';
import type { Frame } from '../../src/rpc/stomp/frame.js';
import { SERVER_COMMANDS } from '../../src/rpc/stomp/frame.js';
import { DEFAULT_LIMITS, StompParser } from '../../src/rpc/stomp/parser.js';

export interface TlsFiles {
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
}

/** A vdsmd: its port on 127.0.0.1 (loopback bed), or the unix socket of the porthole into its namespace. */
export type Endpoint = number | { path: string };

const where = (e: Endpoint) => (typeof e === 'number' ? `port ${e}` : e.path);

export class AskError extends Error {
  constructor(
    message: string,
    /** refused: nothing listens; timeout: no answer in time; closed: the connection ended; remote: an error answer. */
    readonly why: 'refused' | 'timeout' | 'closed' | 'remote',
  ) {
    super(message);
  }
}

/** Calls `method` on `endpoint`; resolves with its result, rejects with AskError. */
export function askVdsm(
  endpoint: Endpoint,
  creds: TlsFiles,
  method: string,
  params: Record<string, unknown> = {},
  timeoutMs = 2000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const id = randomUUID();
    const replyTo = `bed-${id}`;
    let settled = false;
    const to = typeof endpoint === 'number' ? { host: '127.0.0.1', port: endpoint } : { path: endpoint.path };
    const socket = tls.connect({ ...to, ...creds, checkServerIdentity: () => undefined });
    const end = (err: AskError | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(
      () => end(new AskError(`${method} on ${where(endpoint)}: no answer within ${timeoutMs} ms`, 'timeout')),
      timeoutMs,
    );
    const send = (command: string, headers: Record<string, string>, body = '') => {
      const h = Object.entries(headers)
        .map(([k, v]) => `${k}:${v}\n`)
        .join('');
      const cl = body ? `content-length:${Buffer.byteLength(body)}\n` : '';
      socket.write(`${command}\n${h}${cl}\n${body}\0`);
    };
    const onFrame = (f: Frame) => {
      if (f.command === 'CONNECTED') {
        send('SUBSCRIBE', { destination: replyTo, id: 's1', ack: 'auto' });
        send(
          'SEND',
          { destination: 'jms.topic.vdsm_requests', 'reply-to': replyTo, 'content-type': 'application/json' },
          JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        );
      } else if (f.command === 'MESSAGE') {
        let reply: { id?: string; result?: unknown; error?: { code: number; message: string } };
        try {
          reply = JSON.parse(f.body.toString());
        } catch {
          return;
        }
        if (reply.id !== id) return;
        if (reply.error) end(new AskError(`${method}: ${reply.error.code} ${reply.error.message}`, 'remote'));
        else end(null, reply.result);
      } else if (f.command === 'ERROR') end(new AskError(`${method}: STOMP ERROR ${f.body.toString()}`, 'remote'));
    };
    const parser = new StompParser(onFrame, { ...DEFAULT_LIMITS, maxBodyBytes: 64 << 20 }, () => {}, SERVER_COMMANDS);
    socket.once('secureConnect', () => send('CONNECT', { 'accept-version': '1.2', host: 'null', 'heart-beat': '0,0' }));
    socket.on('data', (d: Buffer) => {
      try {
        parser.push(d);
      } catch (err) {
        end(new AskError(`${method}: unreadable answer: ${(err as Error).message}`, 'closed'));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      end(
        new AskError(
          `${method} on ${where(endpoint)}: ${err.code ?? err.message}`,
          err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'refused' : 'closed',
        ),
      ),
    );
    socket.on('close', () => end(new AskError(`${method} on ${where(endpoint)}: connection closed`, 'closed')));
  });
}

/** What a host lists: each VM's id and status (Host.getVMList). */
export async function vmList(
  endpoint: Endpoint,
  creds: TlsFiles,
  timeoutMs = 2000,
): Promise<{ vmId: string; status: string }[]> {
  const r = await askVdsm(endpoint, creds, 'Host.getVMList', {}, timeoutMs);
  if (!Array.isArray(r)) throw new AskError(`Host.getVMList answered ${JSON.stringify(r)}`, 'remote');
  return r.map((v: { vmId: string; status: string }) => ({ vmId: v.vmId, status: v.status }));
}
