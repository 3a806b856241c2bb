import { z } from 'zod';
import { vmsOf } from '../context.js';
import { defineVerb } from '../define.js';
import { vmStatsSchema } from '../vm/schemas.js';

export default defineVerb({
  name: 'Host.getAllVmStats',
  description:
    'Statistics of every VM on the host, Down ones included, recovered VMs first and then in creation order. The engine polls it every 15 seconds.',
  params: z.object({}),
  result: z.array(vmStatsSchema),
  handler: (_params, ctx) => vmsOf(ctx).allStats(),
});
