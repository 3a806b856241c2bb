import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { brokerClient } from '../hosted-engine/broker/client.js';
import type { BrokerStatus } from '../hosted-engine/broker/schemas.js';
import { DEFAULT_CONF_FILE, readConf, type HeConf } from '../hosted-engine/conf.js';
import { engineVmEnv, startEngineVm } from '../hosted-engine/agent-env.js';
import { vdsmCaller } from '../hosted-engine/vdsm-connect.js';
import { vmStatusJson, vmStatusText } from '../hosted-engine/vm-status.js';

const HELP = `Usage: hosted-engine [--conf FILE] COMMAND [options]

Manages the self-hosted engine VM on this host (vdsm-ts). Commands:
  --vm-status [--json]                      every host's HA state as this host's agent sees it
  --set-maintenance --mode=global|local|none
                                            global: no host starts or stops the engine VM
                                            local: this host stops taking part (refused while the VM runs here)
  --vm-start                                start the engine VM here (needs the engine VM lease)
  --vm-start-paused                         the same, with its CPUs paused
  --vm-shutdown                             shut the engine VM down gracefully (120 s for the guest)
  --vm-poweroff                             power the engine VM off at once
  --clean-metadata [--host-id=N] [--force-cleanup]
                                            empty a host's whiteboard slot (its agent must have stopped cleanly)
  --reinitialize-lockspace [--force]        write a fresh lockspace: frees every host id and the engine VM lease
                                            (global maintenance, all agents stopped; --force: also on a new deployment)
  --check-deployed                          exit 0 when hosted-engine is configured on this host
  --help                                    this help

Configuration: --conf FILE, else $HOSTED_ENGINE_CONF, else ${DEFAULT_CONF_FILE}.
`;

class UsageError extends Error {}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function brokerStatus(conf: HeConf): Promise<BrokerStatus> {
  try {
    return await brokerClient(conf.brokerSocket).call('status', {}, { timeoutMs: 10_000 });
  } catch {
    throw new Error('Cannot connect to the HA daemon, please check the logs.');
  }
}

async function withVdsm<T>(conf: HeConf, fn: (call: ReturnType<typeof vdsmCaller>['call']) => Promise<T>): Promise<T> {
  const v = vdsmCaller(conf);
  try {
    return await fn(v.call);
  } finally {
    await v.close();
  }
}

async function vmStart(conf: HeConf, paused: boolean): Promise<number> {
  return withVdsm(conf, async (call) => {
    const r = await startEngineVm(engineVmEnv(conf, call), {
      paused,
      cleaning: (status) => out(`VM exists and is ${status}, cleaning up and restarting`),
    });
    if (r.outcome === 'exists') {
      out(`VM exists and its status is ${r.status}`);
      return 1;
    }
    if (r.outcome === 'lease-held') {
      out(`The engine VM lease is held by host ${r.holder?.hostId ?? '?'}: is the engine VM running there?`);
      return 1;
    }
    if (r.status !== 'WaitForLaunch') {
      out('VM failed to launch');
      return 1;
    }
    out('VM in WaitForLaunch');
    return 0;
  });
}

async function setMaintenance(conf: HeConf, mode: string | undefined): Promise<number> {
  if (mode !== 'global' && mode !== 'local' && mode !== 'none') {
    process.stderr.write(`Invalid value '${mode ?? ''}' for --mode\n`);
    return 1;
  }
  if (mode === 'local') {
    const vms = await withVdsm(conf, (call) => call('Host.getVMList', {})).catch((err: Error) => {
      throw new Error(`cannot ask vdsmd which VMs run here: ${err.message}`);
    });
    if ((vms as { vmId: string; status: string }[]).some((v) => v.vmId === conf.vmId && v.status !== 'Down')) {
      out(
        'Unable to enter local maintenance mode: the engine VM is running on the current host, please migrate it before entering local maintenance mode.',
      );
      return 1;
    }
  }
  // Upstream's order: local, global, then the CLI's own local flag; so global clears local, none clears all.
  for (const [flag, on] of [
    ['local', mode === 'local'],
    ['global', mode === 'global'],
    ['local_manual', mode === 'local'],
  ] as const) {
    await brokerClient(conf.brokerSocket)
      .call('setMaintenance', { mode: flag, enabled: on }, { timeoutMs: 60_000 })
      .catch((err: Error) => {
        throw new Error(`Cannot set the maintenance mode: ${err.message}`);
      });
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      conf: { type: 'string' },
      'vm-status': { type: 'boolean' },
      json: { type: 'boolean' },
      'set-maintenance': { type: 'boolean' },
      mode: { type: 'string' },
      'vm-start': { type: 'boolean' },
      'vm-start-paused': { type: 'boolean' },
      'vm-shutdown': { type: 'boolean' },
      'vm-poweroff': { type: 'boolean' },
      'clean-metadata': { type: 'boolean' },
      'host-id': { type: 'string' },
      'force-cleanup': { type: 'boolean' },
      'reinitialize-lockspace': { type: 'boolean' },
      force: { type: 'boolean' },
      'check-deployed': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const commands = [
    'vm-status',
    'set-maintenance',
    'vm-start',
    'vm-start-paused',
    'vm-shutdown',
    'vm-poweroff',
    'clean-metadata',
    'reinitialize-lockspace',
    'check-deployed',
  ] as const;
  const chosen = commands.filter((c) => values[c]);
  if (values.help) {
    out(HELP);
    return 0;
  }
  if (chosen.length !== 1)
    throw new UsageError(
      chosen.length ? `one command at a time, not ${chosen.map((c) => `--${c}`).join(' and ')}` : 'no command given',
    );
  const confPath = values.conf ?? process.env.HOSTED_ENGINE_CONF ?? DEFAULT_CONF_FILE;
  const deployed = existsSync(confPath);
  if (chosen[0] === 'check-deployed') {
    out(deployed ? 'Hosted Engine has been deployed' : 'Hosted Engine has not been deployed');
    return deployed ? 0 : 1;
  }
  if (!deployed) {
    out('You must run deploy first');
    return 1;
  }
  const conf = readConf(confPath);
  const command = chosen[0]!; // exactly one, checked above
  switch (command) {
    case 'vm-status': {
      try {
        const s = await brokerStatus(conf);
        out(values.json ? JSON.stringify(vmStatusJson(s)) : vmStatusText(s));
        return 0;
      } catch (err) {
        out(values.json ? JSON.stringify({ exception: (err as Error).message }) : (err as Error).message);
        return 1;
      }
    }
    case 'set-maintenance':
      return setMaintenance(conf, values.mode);
    case 'vm-start':
    case 'vm-start-paused':
      return vmStart(conf, command === 'vm-start-paused');
    case 'vm-shutdown':
      await withVdsm(conf, (call) =>
        call('VM.shutdown', { vmID: conf.vmId, delay: '120', message: 'VM is shutting down!' }),
      );
      return 0;
    case 'vm-poweroff':
      await withVdsm(conf, (call) => call('VM.destroy', { vmID: conf.vmId }));
      await brokerClient(conf.brokerSocket).call('leaseRelease', {}, { timeoutMs: 10_000 });
      return 0;
    case 'clean-metadata': {
      const hostId = values['host-id'] === undefined ? conf.hostId : Number(values['host-id']);
      if (!Number.isInteger(hostId) || hostId < 1 || hostId > 2000)
        throw new UsageError(`--host-id must be a whole number from 1 to 2000, not '${values['host-id']}'`);
      await brokerClient(conf.brokerSocket).call(
        'clearHost',
        { hostId, force: values['force-cleanup'] === true },
        { timeoutMs: 30_000 },
      );
      return 0;
    }
    case 'reinitialize-lockspace':
      await brokerClient(conf.brokerSocket).call('resetLease', { force: values.force === true }, { timeoutMs: 30_000 });
      return 0;
  }
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const code = (err as { code?: unknown }).code;
    const usage = err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`hosted-engine: ${(err as Error).message}\n${usage ? "Try 'hosted-engine --help'.\n" : ''}`);
    process.exit(usage ? 2 : 1);
  },
);
