/**
 * Soft fencing: the host's restart command over SSH (the engine runs `vdsm-tool service-restart vdsmd`), as the
 * host's inventory record describes it. Whether vdsmd then answers is the caller's to check (Host.ping2).
 */
import type { Logger } from 'pino';
import type { HostRecord } from '../inventory/records.js';
import type { SecretFiles } from '../secrets.js';
import { sshExec, type SshExecResult } from './exec.js';

export interface SoftFenceOptions {
  secrets: SecretFiles;
  log: Logger;
  connectTimeoutMs?: number;
  execTimeoutMs?: number;
}

export class SoftFence {
  constructor(private readonly options: SoftFenceOptions) {}

  /** ok = the command exited 0; never throws but for `signal` (the leader term's), which ends it at once. */
  async restart(host: HostRecord, signal: AbortSignal): Promise<SshExecResult> {
    const { log } = this.options;
    if (!host.ssh) return { ok: false, detail: `host ${host.id} has no SSH settings` };
    let result: SshExecResult;
    try {
      const privateKey = await this.options.secrets.read(host.ssh.keyRef);
      signal.throwIfAborted();
      result = await sshExec({
        host: host.address,
        port: host.ssh.port,
        user: host.ssh.user,
        hostKeySha256: host.ssh.hostKeySha256,
        privateKey,
        command: host.ssh.command,
        connectTimeoutMs: this.options.connectTimeoutMs,
        execTimeoutMs: this.options.execTimeoutMs,
        signal,
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      result = { ok: false, detail: (err as Error).message };
    }
    log[result.ok ? 'info' : 'warn'](
      { host: host.id, ok: result.ok, detail: result.detail },
      'soft fence: ssh restart',
    );
    return result;
  }
}
