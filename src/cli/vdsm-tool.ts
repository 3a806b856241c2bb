/**
 * `vdsm-tool`: sets the host up for vdsmd and controls our services, as upstream vdsm's tool of that name does for the
 * verbs the engine, the package scriptlets and vdsmd's unit call (docs/vdsm-tool.md). Exit 0 done, 1 otherwise.
 */
import { exitWithCode } from './daemon.js';
import { main } from './tool/cli.js';
import { execRunner } from './tool/runner.js';

exitWithCode('vdsm-tool', () =>
  main(process.argv.slice(2), {
    root: process.env.VDSM_TOOL_ROOT || '/',
    run: execRunner,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  }),
);
