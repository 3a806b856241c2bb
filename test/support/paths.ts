import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Paths of the built project, shared by tests and benchmarks (no test-runner imports here). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const VDSMD = join(ROOT, 'dist/cli/vdsmd.js');
export const VDSM_CLIENT = join(ROOT, 'dist/cli/vdsm-client.js');
