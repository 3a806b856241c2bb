import { expect } from 'vitest';
import { ourAgent, parameterTable, runFence, theirAgent } from './fence-exec.js';

export { type FenceResult, lines, ourAgent, parameterTable, PATIENT, runFence, theirAgent } from './fence-exec.js';

/**
 * Our agent's metadata against ClusterLabs' under one name: ours exits 0, has the same parameter table and names
 * itself. Returns both documents for the checks a test adds.
 */
export async function expectMetadataParity(
  name: string,
  ours = ourAgent(name),
  theirs = theirAgent(name),
): Promise<{ theirs: string; ours: string }> {
  const [t, o] = await Promise.all([runFence(theirs, ['-o', 'metadata']), runFence(ours, ['-o', 'metadata'])]);
  expect(o.code).toBe(0);
  expect(parameterTable(o.stdout)).toEqual(parameterTable(t.stdout));
  expect(o.stdout).toContain(`<resource-agent name="${name}"`);
  return { theirs: t.stdout, ours: o.stdout };
}
