import { z } from 'zod';

export const vmID = z.string().min(1).describe('the VM UUID');

/** Per-VM statistics as vm.py getStats reports them (RunningVmStats / ExitedVmStats): vdsm's string-typed numbers. */
export const vmStatsSchema = z.looseObject({
  vmId: z.string(),
  status: z.string().describe('Down, WaitForLaunch, Powering up, Up, Powering down, Paused, …'),
  statusTime: z.string().regex(/^\d+$/).describe('monotonic ms of the last status change'),
  vmName: z.string().optional(),
  vmType: z.string().optional(),
  kvmEnable: z.literal('true').optional(),
  acpiEnable: z.enum(['true', 'false']).optional(),
  elapsedTime: z.string().regex(/^\d+$/).optional().describe('seconds since start'),
  monitorResponse: z.enum(['0', '-1']).optional().describe('-1: statistics are stale (the engine shows NotResponding)'),
  cpuUser: z
    .string()
    .regex(/^\d+\.\d\d$/)
    .optional()
    .describe('percent of one CPU'),
  cpuSys: z
    .string()
    .regex(/^\d+\.\d\d$/)
    .optional(),
  cpuUsage: z.string().optional().describe('cumulative CPU ns ("0.00" before two samples)'),
  cpuActual: z.boolean().optional(),
  pauseCode: z.string().optional(),
  hash: z.string().optional().describe('devices hash; absent until the live XML was read'),
  memUsage: z.string().optional(),
  guestCPUCount: z.number().int().optional(),
  exitCode: z.number().int().optional().describe('Down only: 0 normal, 1 error'),
  exitReason: z.number().int().optional().describe('Down only: vdsm exit reason number'),
  exitMessage: z.string().optional(),
});

export const vmListEntry = z.object({ vmId: z.string(), status: z.string(), statusTime: z.string() });
