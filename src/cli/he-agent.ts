import { HaAgent } from '../hosted-engine/agent.js';
import { liveAgentEnv } from '../hosted-engine/agent-env.js';
import { runHeDaemon } from './he-daemon.js';

/** he-agent [--conf FILE]: the hosted-engine HA agent (the state machine, ticking every loop_delay seconds). */
runHeDaemon('he-agent', async (conf, deps) => {
  const agent = new HaAgent(conf, liveAgentEnv(conf, deps));
  agent.start();
  deps.log.info({ hostId: conf.hostId }, 'HA agent started');
  return { close: () => agent.stop() };
});
