/** Every route of the coordinator's HTTP API, in the order docs/coordinator-api.md lists them. */
import type { Route } from './route.js';
import { eventsRoute, followEventsRoute } from './routes/events.js';
import { globalMaintenanceRoute } from './routes/ha.js';
import {
  addHostRoute,
  confirmRebootedRoute,
  listHostsRoute,
  maintenanceRoute,
  removeHostRoute,
} from './routes/hosts.js';
import { healthRoute, metricsRoute, statusRoute } from './routes/service.js';
import { defineVmRoute, listVmsRoute, removeVmRoute, startVmRoute, stopVmRoute } from './routes/vms.js';

export const ROUTES: readonly Route[] = [
  healthRoute,
  metricsRoute,
  statusRoute,
  listHostsRoute,
  addHostRoute,
  removeHostRoute,
  maintenanceRoute,
  confirmRebootedRoute,
  globalMaintenanceRoute,
  listVmsRoute,
  defineVmRoute,
  startVmRoute,
  stopVmRoute,
  removeVmRoute,
  eventsRoute,
  followEventsRoute,
];
