import { z } from 'zod';
import { vmsOf } from '../context.js';
import { defineVerb } from '../define.js';
import { vmID } from './schemas.js';

export default defineVerb({
  name: 'VM.cont',
  description:
    'Resumes a paused VM (the engine calls it "resume"). 1 for an unknown VM, 16 when it is Down, 100 before it started.',
  params: z.object({ vmID }),
  result: z.object({ vmList: z.object({}) }),
  handler: async ({ vmID: id }, ctx) => {
    await vmsOf(ctx).cont(id);
    return { vmList: {} };
  },
});
