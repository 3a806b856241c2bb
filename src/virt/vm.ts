import { createHash } from 'node:crypto';
import { liveDevices, type DomainFacts, type LiveDevices } from './domxml.js';
import {
  EXIT_MESSAGES,
  ExitCode,
  type ExitReasonCode,
  type PauseCode,
  VmStatus,
  type VmStatusName,
} from './vmstatus.js';

export interface ExitInfo {
  exitCode: (typeof ExitCode)[keyof typeof ExitCode];
  exitReason: ExitReasonCode;
  exitMessage: string;
}

export function exitInfo(
  reason: ExitReasonCode,
  exitCode: ExitInfo['exitCode'] = ExitCode.Normal,
  message = EXIT_MESSAGES[reason],
): ExitInfo {
  return { exitCode, exitReason: reason, exitMessage: message };
}

type Phase = 'launching' | 'running' | 'paused' | 'down';
type GuestEvent = typeof VmStatus.PoweringUp | typeof VmStatus.Up | typeof VmStatus.PoweringDown;

/**
 * One VM as vdsm keeps it: its status is derived from what libvirt told us and, while no guest agent
 * speaks, from time: "Powering up" for guestWaitMs after start, "Powering down" for 5 × that after a
 * shutdown request. Pure: every method takes `now` (monotonic ms).
 */
export class Vm {
  readonly id: string;
  readonly name: string;
  readonly acpi: boolean;
  readonly memSizeMiB: number;
  readonly vcpus: number;
  readonly domainType: string;
  /** The XML as the engine sent it (VM.create answers with it unchanged). */
  readonly xml: string;
  /** Devices hash of the live XML; absent until libvirt's XML has been read, as in vdsm. */
  hash: string | undefined;
  nics: LiveDevices['nics'] = new Map();
  displays: LiveDevices['displays'] = [];
  hasBalloon = false;
  statusTime: number;
  /** When the domain started running (for elapsedTime), if it has. */
  startTime: number | undefined;
  exit: ExitInfo | undefined;
  /** Set at start, replaced on pause, removed by VM.cont (vdsm). */
  pauseCode: PauseCode | undefined;
  /** VM.create asked for the CPUs to start paused. */
  launchPaused = false;
  /** Set when vdsmd itself stops the domain, so libvirt's stop event is read as ours. */
  stopping: ExitInfo | undefined;
  private phase: Phase = 'launching';
  private guestEvent: GuestEvent = VmStatus.PoweringUp;
  private guestEventTime = -Infinity;

  constructor(
    facts: DomainFacts,
    xml: string,
    now: number,
    private readonly guestWaitMs: number,
  ) {
    this.id = facts.uuid;
    this.name = facts.name;
    this.acpi = facts.acpi;
    this.memSizeMiB = facts.memoryMiB;
    this.vcpus = facts.vcpus;
    this.domainType = facts.domainType;
    this.xml = xml;
    this.statusTime = now;
  }

  status(now: number): VmStatusName {
    switch (this.phase) {
      case 'launching':
        return VmStatus.WaitForLaunch;
      case 'paused':
        return VmStatus.Paused;
      case 'down':
        return VmStatus.Down;
      case 'running': {
        const since = now - this.guestEventTime;
        if (this.guestEvent === VmStatus.PoweringDown && since < 5 * this.guestWaitMs) return VmStatus.PoweringDown;
        if (this.guestEvent === VmStatus.PoweringUp && since < this.guestWaitMs) return VmStatus.PoweringUp;
        return VmStatus.Up;
      }
    }
  }

  /** vdsm's raw status (Host.getVMList, VM.create): Up, never the guest-derived Powering up/down. */
  rawStatus(): VmStatusName {
    const map = {
      launching: VmStatus.WaitForLaunch,
      running: VmStatus.Up,
      paused: VmStatus.Paused,
      down: VmStatus.Down,
    } as const;
    return map[this.phase];
  }

  get isLaunching(): boolean {
    return this.phase === 'launching';
  }

  get isDown(): boolean {
    return this.phase === 'down';
  }

  get isRunning(): boolean {
    return this.phase === 'running' || this.phase === 'paused';
  }

  /** Takes what stats need from libvirt's live XML of the running domain. */
  readLiveXml(xml: string): void {
    Object.assign(this, liveDevices(xml));
    this.hash = String(createHash('sha1').update(xml).digest().readInt32BE(0));
  }

  started(now: number): void {
    this.phase = 'running';
    this.pauseCode = 'NOERR';
    this.startTime = now;
    this.guestEvent = VmStatus.PoweringUp;
    this.guestEventTime = now;
    this.statusTime = now;
  }

  /** Found already running at recovery: it booted long ago, so it is Up (or Paused) at once. */
  recovered(now: number, paused: boolean): void {
    this.phase = paused ? 'paused' : 'running';
    this.startTime = now;
    this.guestEvent = VmStatus.Up;
    this.statusTime = now;
  }

  paused(now: number, code: PauseCode = 'NOERR'): void {
    this.phase = 'paused';
    this.pauseCode = code;
    this.statusTime = now;
  }

  resumed(now: number): void {
    this.phase = 'running';
    this.pauseCode = undefined;
    this.statusTime = now;
  }

  poweringDown(now: number): void {
    this.guestEvent = VmStatus.PoweringDown;
    this.guestEventTime = now;
    this.statusTime = now;
  }

  down(now: number, exit: ExitInfo): void {
    this.phase = 'down';
    this.exit = exit;
    this.stopping = undefined;
    this.statusTime = now;
  }
}
