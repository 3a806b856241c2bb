import { z } from 'zod';
import { type ClientTls, RemoteError, VdsmClient } from '../../rpc/client.js';
import { defineVerb } from '../define.js';
import { intParam } from '../params.js';

export interface PeerProbe {
  reached: boolean;
  detail: string;
}

/**
 * Connects to a peer's vdsmd as vdsm-client does (with this host's own certificate when `tls` is given) and asks
 * Host.ping2. Only a `true` answer within `timeoutMs` counts: a TCP handshake proves nothing, since the kernel of a
 * host whose processes are frozen still completes it from the listen backlog.
 */
export async function probePeer(address: string, port: number, timeoutMs: number, tls?: ClientTls): Promise<PeerProbe> {
  const signal = AbortSignal.timeout(timeoutMs);
  const started = performance.now();
  const left = () => Math.max(1, timeoutMs - (performance.now() - started));
  let client: VdsmClient | undefined;
  try {
    client = await VdsmClient.connect({ host: address, port, tls, connectTimeoutMs: timeoutMs, signal });
    const answer = await client.call('Host.ping2', {}, { timeoutMs: left(), signal });
    if (answer === true) return { reached: true, detail: `Host.ping2 answered true` };
    return { reached: false, detail: `Host.ping2 answered ${JSON.stringify(answer)?.slice(0, 100)}, not true` };
  } catch (err) {
    if (signal.aborted) return { reached: false, detail: `no answer from ${address}:${port} within ${timeoutMs} ms` };
    if (err instanceof RemoteError)
      return { reached: false, detail: `Host.ping2 failed with ${err.code}: ${err.message}` };
    return { reached: false, detail: (err as Error).message };
  } finally {
    void client?.destroy();
  }
}

export default defineVerb({
  name: 'Host.probePeer',
  description:
    "vdsm-ts extension (not in vdsm): whether this host reaches another host's vdsmd, for the HA coordinator's " +
    'witness rule. Connects as vdsm-client does, with this host’s own certificate when vdsmd serves TLS (peers ' +
    'share the CA), and calls Host.ping2: reached is true only when it answers true within timeoutMs. A refused ' +
    'port, a TLS failure, an error answer or no answer in time is reached false, with the reason in detail.',
  params: z.object({
    address: z.string().min(1).max(255).describe("the peer's management address"),
    port: intParam((n) => n.min(1).max(65535))
      .default(54321)
      .describe("the peer vdsmd's port (default 54321)"),
    timeoutMs: intParam((n) => n.min(100).max(30_000))
      .default(3000)
      .describe('how long the connection and the answer may take together, 100 to 30000 ms (default 3000)'),
  }),
  result: z.object({
    reached: z.boolean().describe('Host.ping2 answered true in time'),
    detail: z.string().describe('what happened, for the log'),
  }),
  handler: ({ address, port, timeoutMs }, ctx) => probePeer(address, port, timeoutMs, ctx.peerTls),
});
