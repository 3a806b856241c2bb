/** The VMs: definitions (domain XML, HA flag, priority) and the operator's commands on them. */
import { z } from 'zod';
import { defineRoute, NONE } from '../route.js';
import { accepted, by, byQuery, defineVmBody, startVmBody, vmRef, vmView } from '../schemas.js';

const vmParams = z.strictObject({ id: vmRef });

export const listVmsRoute = defineRoute({
  method: 'GET',
  path: '/vms',
  summary: 'Every VM the coordinator manages: state, the host it runs on, HA flag, priority, memory.',
  params: NONE,
  query: NONE,
  body: null,
  produces: 'json',
  response: z.array(vmView),
  handler: (_input, { api }) => api.vms(),
});

export const defineVmRoute = defineRoute({
  method: 'POST',
  path: '/vms',
  summary: 'Defines a VM from its libvirt domain XML; it starts stopped and owned by no host.',
  params: NONE,
  query: NONE,
  body: defineVmBody,
  produces: 'json',
  status: 202,
  response: accepted,
  handler: ({ body }, { api }) => api.defineVm({ xml: body.xml, ha: body.ha, priority: body.priority }, body.by),
});

export const startVmRoute = defineRoute({
  method: 'POST',
  path: '/vms/:id/start',
  summary: 'Starts a VM, placed like a recovered one (an Up host with the memory, fewest VMs first) or on `host`.',
  params: vmParams,
  query: NONE,
  body: startVmBody,
  produces: 'json',
  status: 202,
  response: accepted,
  handler: ({ params, body }, { api }) =>
    api.startVm(params.id, body.host === undefined ? {} : { host: body.host }, body.by),
});

export const stopVmRoute = defineRoute({
  method: 'POST',
  path: '/vms/:id/stop',
  summary: 'Shuts a VM down cleanly (destroyed when it is not down in time); an HA VM stopped this way stays stopped.',
  params: vmParams,
  query: NONE,
  body: z.strictObject({ by }),
  produces: 'json',
  status: 202,
  response: accepted,
  handler: ({ params, body }, { api }) => api.stopVm(params.id, body.by),
});

export const removeVmRoute = defineRoute({
  method: 'DELETE',
  path: '/vms/:id',
  summary: 'Removes a VM definition; the leader refuses it unless the VM is stopped, down or in error.',
  params: vmParams,
  query: byQuery,
  body: null,
  produces: 'json',
  status: 202,
  response: accepted,
  handler: ({ params, query }, { api }) => api.removeVm(params.id, query.by),
});
