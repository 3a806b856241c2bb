import { z } from 'zod';
import { defineVerb } from '../define.js';
import { VdsmError } from '../../common/errors.js';
import { boolParam } from '../params.js';

const MODES = ['GLOBAL', 'LOCAL'] as const;

export default defineVerb({
  name: 'Host.setHaMaintenanceMode',
  description:
    'Turns hosted-engine HA global or local maintenance on or off for this host. Answers 40 when HA is not ' +
    'configured here and 61 for an unknown mode or when the HA service fails.',
  params: z.object({
    mode: z.string().describe('GLOBAL or LOCAL (compared without case, as vdsm does)'),
    enabled: boolParam().describe('true to enter the maintenance mode, false to leave it'),
  }),
  result: z.object({ code: z.literal(0), message: z.literal('Done') }),
  handler: async ({ mode, enabled }, { ha }) => {
    const wanted = mode.toUpperCase();
    // vdsm answers an unknown mode with 61, not with an invalid-params error; the engine expects that.
    if (!(MODES as readonly string[]).includes(wanted))
      throw VdsmError.of('haErr', { reason: `unknown mode '${mode}'` });
    await ha.setMaintenance(wanted as (typeof MODES)[number], enabled);
    return { code: 0 as const, message: 'Done' as const };
  },
});
