import { z } from 'zod';
import { vmsOf } from '../context.js';
import { defineVerb } from '../define.js';
import { boolParam, intParam } from '../params.js';
import { vmID } from './schemas.js';

// The engine sends delay and timeout as strings; vdsm runs them through int().
const seconds = (fallback: number) => intParam((n) => n.min(0)).default(fallback);

export default defineVerb({
  name: 'VM.shutdown',
  description:
    'Asks the guest to shut down: through the guest agent, then ACPI, then (with force) by destroying it, each ' +
    'method given `timeout` seconds. Answers at once; the Down event follows. 1 for an unknown or Down VM, 4 when ' +
    'the VM has neither ACPI nor a guest agent and force is not set.',
  params: z.object({
    vmID,
    delay: seconds(30).describe('seconds the guest agent gives logged-in users (default 30)'),
    message: z.string().default('System going down').describe('message the guest agent shows'),
    reboot: boolParam().default(false),
    timeout: seconds(120).describe('seconds each shutdown method is given (default 120)'),
    force: boolParam().default(false).describe('destroy the VM if the guest does not go down'),
  }),
  result: z.literal(true),
  handler: async ({ vmID: id, delay, message, reboot, timeout, force }, ctx) => {
    await vmsOf(ctx).shutdown(id, { delaySeconds: delay, message, reboot, timeoutSeconds: timeout, force });
    return true as const;
  },
});
