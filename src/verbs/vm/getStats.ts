import { z } from 'zod';
import { vmsOf } from '../context.js';
import { defineVerb } from '../define.js';
import { vmID, vmStatsSchema } from './schemas.js';

export default defineVerb({
  name: 'VM.getStats',
  description: "One VM's statistics, as a one-element list (the engine reads key statsList). 1 for an unknown VM.",
  params: z.object({ vmID }),
  result: z.array(vmStatsSchema).length(1),
  handler: ({ vmID: id }, ctx) => [vmsOf(ctx).stats(id)],
});
