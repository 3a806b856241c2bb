import { z } from 'zod';
import { readHardwareInfo } from '../../host/hardware.js';
import { defineVerb } from '../define.js';

const dmiString = z.string().min(1);

export const hardwareInfoResult = z.object({
  systemManufacturer: dmiString.optional(),
  systemProductName: dmiString.optional(),
  systemVersion: dmiString.optional(),
  systemSerialNumber: dmiString.optional(),
  systemUUID: z
    .string()
    .regex(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/)
    .optional(),
  systemFamily: dmiString.optional(),
});

export default defineVerb({
  name: 'Host.getHardwareInfo',
  description:
    "Reports the machine's vendor, model, version, serial number, UUID and family from its firmware tables; fields the firmware leaves empty are omitted, and a host with no such tables answers error 57.",
  params: z.object({}),
  result: hardwareInfoResult,
  handler: () => readHardwareInfo(),
});
