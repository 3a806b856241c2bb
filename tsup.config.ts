import { defineConfig } from 'tsup';

const banner = { js: '#!/usr/bin/env node' };

export default defineConfig([{
  entry: {
    'cli/vdsmd': 'src/cli/vdsmd.ts',
    'cli/vdsm-client': 'src/cli/vdsm-client.ts',
    'cli/gen-api-doc': 'src/cli/gen-api-doc.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  splitting: true,
  sourcemap: true,
  clean: false,
  banner,
},
{
  // One self-contained file per fence agent: a standalone agent loads only its own plugin, and starts fast.
  entry: { 'fence/fence_ipmilan': 'plugins/fence_ipmilan/cli.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  splitting: false,
  sourcemap: false,
  clean: false,
  banner,
}]);
