/** The agent's states, with upstream's names: they appear in metadata, logs and admins' habits. */
export const STATES = [
  'StartState',
  'ReinitializeFSM',
  'GlobalMaintenance',
  'LocalMaintenance',
  'UnknownLocalVmState',
  'EngineDown',
  'EngineStart',
  'EngineStarting',
  'EngineUp',
  'EngineUpBadHealth',
  'EngineMaybeAway',
  'EngineStop',
  'EngineForceStop',
  'EngineUnexpectedlyDown',
  'AgentStopped',
] as const;
export type StateName = (typeof STATES)[number];
