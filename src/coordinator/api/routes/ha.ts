/** Hosted-engine HA across the cluster. */
import { defineRoute, NONE } from '../route.js';
import { accepted, globalMaintenanceBody } from '../schemas.js';

export const globalMaintenanceRoute = defineRoute({
  method: 'POST',
  path: '/ha/global-maintenance',
  summary:
    'Sets hosted-engine global maintenance on or off (Host.setHaMaintenanceMode through an Up host that runs HA): while on, no HA agent starts, stops or moves the engine VM.',
  params: NONE,
  query: NONE,
  body: globalMaintenanceBody,
  produces: 'json',
  status: 202,
  response: accepted,
  handler: ({ body }, { api }) => api.setGlobalMaintenance(body.on, body.by),
});
