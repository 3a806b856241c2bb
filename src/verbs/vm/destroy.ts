import { z } from 'zod';
import { vmsOf } from '../context.js';
import { defineVerb } from '../define.js';
import { intParam } from '../params.js';
import { vmID } from './schemas.js';

export default defineVerb({
  name: 'VM.destroy',
  description:
    'Powers the VM off at once (if it runs) and removes it from the host. 1 for an unknown VM, 42 when libvirt cannot destroy it.',
  params: z.object({
    vmID,
    gracefulAttempts: intParam((n) => n.min(0).max(100))
      .default(1)
      .describe('SIGTERM attempts before SIGKILL'),
  }),
  result: z.literal(true),
  handler: async ({ vmID: id, gracefulAttempts }, ctx) => {
    await vmsOf(ctx).destroy(id, gracefulAttempts);
    return true as const;
  },
});
