import { fenceMain } from '../../src/plugins/fence/main.js';
import agent from './index.js';

void fenceMain(agent);
