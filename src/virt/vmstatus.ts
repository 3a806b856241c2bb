/** vdsm's VM status strings (lib/vdsm/virt/vmstatus.py), capitals and all. */
export const VmStatus = {
  Down: 'Down',
  Up: 'Up',
  PoweringUp: 'Powering up',
  PoweringDown: 'Powering down',
  Paused: 'Paused',
  MigrationSource: 'Migration Source',
  MigrationDestination: 'Migration Destination',
  WaitForLaunch: 'WaitForLaunch',
  RebootInProgress: 'RebootInProgress',
  RestoringState: 'Restoring state',
  SavingState: 'Saving State',
} as const;
export type VmStatusName = (typeof VmStatus)[keyof typeof VmStatus];

/** exitCode of a Down VM. */
export const ExitCode = { Normal: 0, Error: 1 } as const;

/** vdsm's exit reasons (lib/vdsm/virt/vmexitreason.py): number and the message sent as exitMessage. */
export const ExitReason = {
  Success: 0,
  GenericError: 1,
  LostQemuConnection: 2,
  LibvirtStartFailed: 3,
  MigrationSucceeded: 4,
  SaveStateSucceeded: 5,
  AdminShutdown: 6,
  UserShutdown: 7,
  MigrationFailed: 8,
  LibvirtDomainMissing: 9,
  DestroyedOnStartup: 10,
  HostShutdown: 11,
  PostcopyMigrationFailed: 12,
  DestroyedOnReboot: 13,
  DestroyedOnPauseTimeout: 14,
} as const;
export type ExitReasonCode = (typeof ExitReason)[keyof typeof ExitReason];

export const EXIT_MESSAGES: Record<ExitReasonCode, string> = {
  0: 'VM terminated succesfully', // sic: vdsm's text, which the engine shows
  1: 'VM terminated with error',
  2: 'Lost connection with qemu process',
  3: 'failed to start libvirt vm',
  4: 'Migration succeeded',
  5: 'SaveState succeeded',
  6: 'Admin shut down from the engine',
  7: 'User shut down from within the guest',
  8: 'VM failed to migrate',
  9: 'Failed to find the libvirt domain',
  10: 'VM destroyed during the startup',
  11: 'VM has been terminated on the host',
  12: 'Migration failed in post-copy',
  13: 'Down as a part of the reboot process',
  14: 'Down because paused for too long',
};

/** Why a paused VM is paused (vdsm's pauseCode). */
export type PauseCode = 'NOERR' | 'EIO' | 'ENOSPC' | 'EPERM' | 'EOTHER' | 'POSTCOPY';
