import { z } from 'zod';
import { defineVerb } from '../define.js';

export default defineVerb({
  name: 'Host.ping2',
  description: 'Answers true when the host service is up and ready; the engine polls it with a 2 s bound.',
  params: z.object({}),
  result: z.literal(true),
  handler: () => true as const,
});
