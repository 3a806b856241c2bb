/** Starting, stopping and destroying VMs on a host, each call bounded; the caller's signal ends any of them. */
import { type HostCaller, HostCallError } from './caller.js';

/** vdsm's "Virtual machine does not exist" (VM.destroy, VM.shutdown: also a Down VM for shutdown). */
const NO_VM = 1;
/** VM.shutdown without ACPI nor guest agent, and not forced. */
const NO_SHUTDOWN_METHOD = 4;

export interface StopBounds {
  /** One RPC (VM.shutdown, VM.destroy, a listing). */
  callMs: number;
  /** How long the guest gets to go Down before VM.destroy. */
  shutdownMs: number;
  /** Between two looks at the VM while waiting (events wake the wait earlier). */
  pollMs: number;
}

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** VM.create with the VM's saved domain XML; ok once vdsmd accepted it (the start is confirmed by polls/events). */
export async function createVm(
  hosts: HostCaller,
  host: string,
  vm: { id: string; xml: string },
  ms: number,
  signal: AbortSignal,
): Promise<{ ok: boolean; detail?: string }> {
  try {
    const r = (await hosts.call(
      host,
      'VM.create',
      { vmID: vm.id, vmParams: { xml: vm.xml } },
      { timeoutMs: ms, signal },
    )) as { status?: unknown } | null;
    return { ok: true, detail: `VM.create answered ${String(r?.status ?? 'ok')}` };
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    return { ok: false, detail: describe(err) };
  }
}

/** VM.destroy; true once the host no longer has the VM (an unknown VM counts as destroyed). */
export async function destroyVm(
  hosts: HostCaller,
  host: string,
  vmId: string,
  ms: number,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await hosts.call(host, 'VM.destroy', { vmID: vmId }, { timeoutMs: ms, signal });
    return true;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    return err instanceof HostCallError && err.code === NO_VM;
  }
}

/**
 * VM.shutdown, then a wait (bounded) until the host reports the VM Down or gone, then VM.destroy, which also takes
 * a Down VM off the host's list. True once the host no longer runs it; false when the host could not be asked.
 */
export async function stopVm(
  hosts: HostCaller,
  host: string,
  vmId: string,
  b: StopBounds,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await hosts.call(
      host,
      'VM.shutdown',
      { vmID: vmId, delay: 0, message: 'Shut down by the HA coordinator', timeout: Math.ceil(b.shutdownMs / 1000) },
      { timeoutMs: b.callMs, signal },
    );
    await untilDown(hosts, host, vmId, b, signal);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    // Unknown or already Down (1), or no way to ask the guest (4): destroying is what is left.
    const remote = err instanceof HostCallError && (err.code === NO_VM || err.code === NO_SHUTDOWN_METHOD);
    if (!remote) return false;
  }
  return destroyVm(hosts, host, vmId, b.callMs, signal);
}

/** Resolves when the VM is Down or gone, or when `shutdownMs` has passed; a VM_status event ends a wait early. */
async function untilDown(hosts: HostCaller, host: string, vmId: string, b: StopBounds, signal: AbortSignal) {
  const deadline = performance.now() + b.shutdownMs;
  let wake: (() => void) | undefined;
  let down = false;
  const off = hosts.onVmStatus((h, id, status) => {
    if (h !== host || id !== vmId) return;
    if (status === 'Down') down = true;
    wake?.();
  });
  try {
    while (!down) {
      const list = (await hosts.call(host, 'Host.getAllVmStats', {}, { timeoutMs: b.callMs, signal })) as {
        vmId?: unknown;
        status?: unknown;
      }[];
      const vm = Array.isArray(list) ? list.find((v) => v?.vmId === vmId) : undefined;
      if (!vm || vm.status === 'Down') return;
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, Math.min(b.pollMs, left));
        wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
      signal.throwIfAborted();
    }
  } finally {
    off();
  }
}
