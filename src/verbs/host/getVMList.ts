import { z } from 'zod';
import { vmsOf } from '../context.js';
import { defineVerb } from '../define.js';
import { boolParam } from '../params.js';
import { vmListEntry } from '../vm/schemas.js';

export default defineVerb({
  name: 'Host.getVMList',
  description:
    "The host's VMs as {vmId, status, statusTime}, with vdsm's raw status (Up, never Powering up). vmList narrows " +
    'it to the given ids; fullStatus and onlyUUID are accepted and, as in current vdsm, change nothing.',
  params: z.object({
    fullStatus: boolParam().default(false),
    vmList: z.array(z.string()).default([]),
    onlyUUID: boolParam().default(false),
  }),
  result: z.array(vmListEntry),
  handler: ({ vmList }, ctx) => {
    const all = vmsOf(ctx).list();
    return vmList.length ? all.filter((vm) => vmList.includes(vm.vmId)) : all;
  },
});
