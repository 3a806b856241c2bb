import { defineConfig } from 'tsup';

export default defineConfig({
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
  clean: true,
  banner: { js: '#!/usr/bin/env node' },
});
