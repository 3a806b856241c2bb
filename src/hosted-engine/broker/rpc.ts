import net from 'node:net';
import { JSONRPCClient, JSONRPCErrorCode, JSONRPCServer, type JSONRPCRequest } from 'json-rpc-2.0';

/**
 * The broker's local socket speaks JSON-RPC 2.0, one message per line, over AF_UNIX (upstream: XML-RPC over
 * HTTP over AF_UNIX). Only processes that may open the socket (mode 0660, vdsm's group) can talk to it.
 */
export function serveLines(server: JSONRPCServer, socketPath: string): Promise<net.Server> {
  const listener = net.createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > 4 * 1024 * 1024) return socket.destroy(); // nobody sends that much
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let request: unknown;
        try {
          request = JSON.parse(line);
        } catch {
          socket.write(
            `${JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: JSONRPCErrorCode.ParseError, message: 'Parse error' } })}\n`,
          );
          continue;
        }
        void server.receive(request as JSONRPCRequest).then((response) => {
          if (response && !socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
        });
      }
    });
  });
  return new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(socketPath, () => resolve(listener));
  });
}

/**
 * One request on a fresh connection, bounded in time: the broker being down or hung must never hang a caller.
 * Untyped: callers go through `brokerClient` (client.ts), which types and parses by the catalogue.
 */
export async function requestOnce(
  socketPath: string,
  method: string,
  params: unknown,
  timeoutMs: number,
): Promise<unknown> {
  const socket = net.connect(socketPath);
  socket.setEncoding('utf8');
  let buffered = '';
  const client = new JSONRPCClient((request) => {
    socket.write(`${JSON.stringify(request)}\n`);
  });
  const done = new Promise<never>((_, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the HA broker did not answer ${method} within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    socket.once('close', () => clearTimeout(timer));
    socket.on('error', (err) =>
      reject(
        new Error(`cannot reach the HA broker at ${socketPath}: ${(err as NodeJS.ErrnoException).code ?? err.message}`),
      ),
    );
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          client.receive(JSON.parse(line));
        } catch {
          reject(new Error(`the HA broker answered ${method} with a line that is not JSON`));
        }
      }
    });
  });
  try {
    return await Promise.race([client.request(method, params), done]);
  } finally {
    socket.destroy();
  }
}
