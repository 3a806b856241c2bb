import type { VdsmdConfig } from '../../src/cli/config.js';

/** The embedded default, on a free port, for in-process vdsmd tests. */
export function testConfig(overrides: Partial<VdsmdConfig> = {}): VdsmdConfig {
  return {
    bind: '127.0.0.1',
    port: 0,
    ssl: false,
    sslKey: '',
    sslCert: '',
    sslCa: '',
    logLevel: 'info',
    fencePluginDir: '/nonexistent',
    libvirtUri: 'test:///default',
    vmSampleInterval: 15,
    guestWaitTimeout: 60,
    heConf: '/nonexistent/hosted-engine.conf',
    configFile: null,
    ...overrides,
  };
}
