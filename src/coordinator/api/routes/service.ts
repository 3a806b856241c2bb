/** The replica itself: health for load balancers and probes, Prometheus metrics, the status summary. */
import { z } from 'zod';
import { defineRoute, NONE } from '../route.js';
import { health, status } from '../schemas.js';

export const healthRoute = defineRoute({
  method: 'GET',
  path: '/health',
  summary:
    'Whether this replica works: leader or follower, and whether etcd answers. 200 when etcd answers, 503 when not.',
  params: NONE,
  query: NONE,
  body: null,
  produces: 'json',
  response: health,
  statusOf: (answer) => (answer.ok ? 200 : 503),
  handler: (_input, { api }) => api.health(),
});

export const metricsRoute = defineRoute({
  method: 'GET',
  path: '/metrics',
  summary:
    "Prometheus metrics in the text exposition format: hosts by state, fence actions by kind and outcome, VM restarts by outcome, leadership and epoch, and histograms of the time from a host's last good answer to NonResponsive, to OFF confirmed and to its VMs Up (docs/coordinator-cli.md lists them).",
  params: NONE,
  query: NONE,
  body: null,
  produces: 'text',
  response: z.string(),
  handler: async (_input, { metrics }) => ({ contentType: metrics.contentType, text: await metrics.text() }),
});

export const statusRoute = defineRoute({
  method: 'GET',
  path: '/status',
  summary:
    'A summary: this replica, who leads, etcd, hosts and VMs counted by state, hosted-engine global maintenance.',
  params: NONE,
  query: NONE,
  body: null,
  produces: 'json',
  response: status,
  handler: (_input, { api }) => api.status(),
});
