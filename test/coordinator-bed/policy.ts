/**
 * The [policy] the end-to-end scenarios run with: the core's defaults (docs/coordinator.md) scaled down so that a
 * scenario takes a minute, not five, with every rule unchanged (AND of failures and grace, witnesses, a second OFF
 * reading, the new-leader wait).
 */
import type { Policy } from './replica.js';

export const FAST_POLICY: Policy = {
  // default 2 s, kept: the core waits 2 ping intervals for the witnesses, and a witness probing a frozen host takes
  // its whole probe bound (3 s in src/coordinator/hosts/links.ts) to say "not reached"
  pingInterval: 2,
  statsInterval: 3, // 10 s
  failuresForNonResponsive: 3, // 3
  graceBase: 6, // 20 s
  gracePerVm: 0, // 0.25 s: the scale scenario's 50 VMs would add 12.5 s
  graceCap: 10, // 45 s
  softFenceUpWithin: 15, // 20 s
  statusPollInterval: 1, // 3 s
  statusPollTries: 20, // 20
  offRecheckAfter: 2, // 5 s
  leaderTtl: 3, // 10 s
  recheckAfter: 3, // 10 s
  startConfirmWithin: 30, // 60 s
  retryShort: 5, // 30 s
  powerOnAfterFence: false, // true: the scenarios look at the fenced host's power transitions, one "power 0"
};
