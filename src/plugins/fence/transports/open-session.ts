import type { FenceOptions } from '../agent.js';
import { dialogue } from '../dialogue.js';
import type { CliSession } from './buffered-session.js';

/**
 * Opens the device's command line over SSH (--ssh) or telnet, within timeoutMs. Each transport is loaded only
 * when used: a telnet run never loads ssh2.
 */
export async function openSession(opts: FenceOptions, timeoutMs: number): Promise<CliSession> {
  const ssh = opts.secure === true;
  const port = opts.ipport ?? (ssh ? 22 : 23);
  dialogue().note(`Connecting to ${String(opts.ipaddr)}:${port} over ${ssh ? 'SSH' : 'telnet'}`);
  if (ssh) {
    const { openSsh } = await import('./ssh.js');
    return openSsh(opts, timeoutMs);
  }
  const { openTelnet } = await import('./telnet.js');
  return openTelnet(opts, timeoutMs);
}
