/** A hosted-engine host block (what an agent publishes on the whiteboard) for tests: host 1, down engine VM. */
import type { HostBlock } from '../../src/hosted-engine/types.js';

export const hostBlock = (over: Partial<HostBlock> = {}): HostBlock => ({
  hostId: 1,
  hostTs: 100,
  score: 3400,
  engineStatus: { vm: 'down', health: 'bad', detail: 'unknown', reason: 'vm not running on this host' },
  hostname: 'host1.example',
  maintenance: false,
  stopped: false,
  confOnSharedStorage: true,
  localConfTimestamp: 100,
  state: 'EngineDown',
  ...over,
});
