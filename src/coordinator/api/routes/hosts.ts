/** The hosts: the inventory with what the coordinator knows of each, and the operator's commands on them. */
import { z } from 'zod';
import { defineRoute, NONE } from '../route.js';
import { accepted, addHostBody, by, byQuery, hostId, hostView, maintenanceBody } from '../schemas.js';

const hostParams = z.strictObject({ id: hostId });

export const listHostsRoute = defineRoute({
  method: 'GET',
  path: '/hosts',
  summary:
    "Every host: its inventory record (fence agents and SSH without secrets), the coordinator's state, maintenance, VM count and hosted-engine HA as the host reports it.",
  params: NONE,
  query: NONE,
  body: null,
  produces: 'json',
  response: z.array(hostView),
  handler: (_input, { api }) => api.hosts(),
});

export const addHostRoute = defineRoute({
  method: 'POST',
  path: '/hosts',
  summary:
    "Adds a host to the inventory. Passwords and keys never travel: an agent names its password file (`passwordRef`), SSH its key file (`keyRef`), both in the coordinator's secrets directory; an unknown field (a `password`) is refused.",
  params: NONE,
  query: NONE,
  body: addHostBody,
  produces: 'json',
  status: 202,
  response: accepted,
  handler: ({ body: { by, ...host } }, { api }) => api.addHost(host, by),
});

export const removeHostRoute = defineRoute({
  method: 'DELETE',
  path: '/hosts/:id',
  summary: 'Removes a host from the inventory; the leader refuses it unless the host is in maintenance with no VM.',
  params: hostParams,
  query: byQuery,
  body: null,
  produces: 'json',
  status: 202,
  response: accepted,
  handler: ({ params, query }, { api }) => api.removeHost(params.id, query.by),
});

export const maintenanceRoute = defineRoute({
  method: 'POST',
  path: '/hosts/:id/maintenance',
  summary:
    'on: takes the host out of fencing and placement, moves its VMs away (HA VMs shut down cleanly and start on another host; with keepVms refused while it runs any) and enables local hosted-engine HA maintenance there. off: activates it again (both undone).',
  params: hostParams,
  query: NONE,
  body: maintenanceBody,
  produces: 'json',
  status: 202,
  response: accepted,
  handler: ({ params, body }, { api }) =>
    api.setMaintenance(params.id, { on: body.on, keepVms: body.keepVms }, body.by),
});

export const confirmRebootedRoute = defineRoute({
  method: 'POST',
  path: '/hosts/:id/confirm-rebooted',
  summary:
    'A person confirms the host was rebooted or powered off: its VMs are restarted elsewhere. Accepted only while it is NonResponsive or its fence failed; who and when are recorded. If the host still runs, its VMs run twice.',
  params: hostParams,
  query: NONE,
  body: z.strictObject({ by }),
  produces: 'json',
  status: 202,
  response: accepted,
  handler: ({ params, body }, { api }) => api.confirmRebooted(params.id, body.by),
});
