import { startBroker } from '../hosted-engine/broker/server.js';
import { runHeDaemon } from './he-daemon.js';

/** he-broker [--conf FILE]: the hosted-engine HA broker (monitors, whiteboard, lease) on its local socket. */
runHeDaemon('he-broker', startBroker);
