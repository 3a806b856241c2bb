/**
 * One policy for a real peer a test needs and cannot find (an agent, a daemon, a tool, root): in CI, where
 * `scripts/setup.sh test` installs every peer, it is a failure (VDSM_TS_NO_SKIP=1, set by .ci/run); locally the
 * test is skipped and the reason printed. Use as `describe.skipIf(missing('ClusterLabs fence_apc', !existsSync(X)))`.
 */
export const NO_SKIP = process.env.VDSM_TS_NO_SKIP === '1';

const said = new Set<string>();

export function missing(what: string, isMissing: boolean): boolean {
  if (!isMissing) return false;
  if (NO_SKIP)
    throw new Error(
      `${what} is missing: under VDSM_TS_NO_SKIP every real-peer test must run (scripts/setup.sh test installs it)`,
    );
  if (!said.has(what)) {
    said.add(what);
    process.stderr.write(`skipping tests that need ${what}: it is missing here\n`);
  }
  return true;
}
