import { loadConfig, type VdsmdConfig } from '../config.js';
import { rooted, type ToolContext } from './context.js';

/** The config file vdsmd's unit runs with (rpm/vdsmd.service: --config /etc/vdsm/vdsm.conf). */
export const VDSM_CONF = '/etc/vdsm/vdsm.conf';

/**
 * vdsm.conf and its drop-ins as vdsmd's unit reads them: the same loader with the same --config, no other flag and no
 * environment (the unit sets none). On a host that includes the vendor drop-in directories; under a scratch root
 * only FILE.d. Throws ConfigError as vdsmd would, a missing file included.
 */
export function loadVdsmConf(ctx: ToolContext): VdsmdConfig {
  const config = loadConfig(['--config', rooted(ctx, VDSM_CONF)], {});
  if (config === 'help') throw new Error('unreachable: no --help given');
  return config;
}
