import { z } from 'zod';
import { vmsOf } from '../context.js';
import { defineVerb } from '../define.js';
import { vmID } from './schemas.js';

export default defineVerb({
  name: 'VM.pause',
  description: "Pauses the VM's CPUs. 1 for an unknown VM, 100 when it is not running.",
  params: z.object({ vmID }),
  result: z.object({ vmList: z.object({}) }),
  handler: async ({ vmID: id }, ctx) => {
    await vmsOf(ctx).pause(id);
    return { vmList: {} };
  },
});
