import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { defineConfig } from 'tsup';

const banner = { js: '#!/usr/bin/env node' };

/**
 * Fence agent aliases (fence_ilo4, fence_idrac, ...) share their agent's bundle and pick their defaults by the
 * name they are called by. package.json's `bin` is the one list (npm links each name to the bundle); here the
 * same names become symlinks in dist/fence/, as upstream installs them.
 */
function linkFenceAliases() {
  const bin: Record<string, string> = JSON.parse(readFileSync('package.json', 'utf8')).bin;
  for (const [name, bundle] of Object.entries(bin)) {
    if (!bundle.startsWith('dist/fence/') || basename(bundle) === `${name}.js`) continue;
    if (!existsSync(bundle)) throw new Error(`fence alias ${name}: ${bundle} was not built`);
    // A rebuild over an existing dist/ (npx tsup without npm run build's rm -rf) replaces the links.
    rmSync(`${dirname(bundle)}/${name}`, { force: true });
    symlinkSync(basename(bundle), `${dirname(bundle)}/${name}`);
  }
}

export default defineConfig([
  {
    entry: {
      'cli/vdsmd': 'src/cli/vdsmd.ts',
      'cli/vdsm-client': 'src/cli/vdsm-client.ts',
      'cli/vdsm-ts-coordinator': 'src/cli/coordinator.ts',
      'cli/gen-coordinator-api-doc': 'src/cli/gen-coordinator-api-doc.ts',
      'cli/gen-api-doc': 'src/cli/gen-api-doc.ts',
      'cli/gen-broker-doc': 'src/cli/gen-broker-doc.ts',
      'cli/hosted-engine': 'src/cli/hosted-engine.ts',
      'cli/he-broker': 'src/cli/he-broker.ts',
      'cli/he-agent': 'src/cli/he-agent.ts',
      'cli/vdsm-tool': 'src/cli/vdsm-tool.ts',
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
    // Every plugins/<agent>/cli.ts becomes dist/fence/<agent>.js.
    entry: Object.fromEntries(
      readdirSync('plugins')
        .filter((agent) => existsSync(`plugins/${agent}/cli.ts`))
        .map((agent) => [`fence/${agent}`, `plugins/${agent}/cli.ts`]),
    ),
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    splitting: false,
    sourcemap: false,
    clean: false,
    banner,
    // What `fence_<name> -V` prints (src/plugins/fence/main.ts): fixed at build, no package.json read at run time.
    define: { __VDSM_TS_VERSION__: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) },
    onSuccess: async () => linkFenceAliases(),
  },
]);
