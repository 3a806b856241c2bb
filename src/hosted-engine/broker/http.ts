/**
 * The broker's /metrics and /health over HTTP on `metrics_listen` (docs/metrics.md). Plaintext and without
 * authentication, like node_exporter: it is off unless configured, and meant for a loopback or management address.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createHttpEndpoints, jsonAnswer } from '../../rpc/http.js';
import type { BrokerMetrics } from './metrics.js';

export async function serveBrokerMetrics(
  metrics: BrokerMetrics,
  at: { host: string; port: number },
  log: Logger,
): Promise<{ address: AddressInfo; close(): Promise<void> }> {
  const server = createHttpEndpoints({
    log,
    routes: {
      '/metrics': async () => ({ status: 200, contentType: metrics.contentType, body: await metrics.text() }),
      '/health': () => {
        const health = metrics.health();
        return jsonAnswer(health.status === 'ok' ? 200 : 503, health);
      },
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'metrics listener error'));
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
