import { moduleNames } from './modules/index.js';
import { SERVICE_UNITS } from './services.js';

const MODULES = `Modules: ${moduleNames().join(', ')} (qemu is another name for libvirt); without --module, all.`;

/** Each verb's help: its usage line, then what it does. */
export const VERB_HELP: Readonly<Record<string, string>> = {
  configure: `Usage: vdsm-tool configure [--module NAME]... [--force]

Configures what vdsmd needs from the host: qemu.conf's lock manager and qemu-sanlock.conf (libvirt), the vdsm
user's access to qemu:///system (libvirt), the sanlock user's groups and sanlock.conf (sanlock), and a self-signed
TLS pair when vdsm.conf has ssl = true and none exists (certificates). Modules already configured are left alone.
Refuses while a service that reads the changed files only at start is running (vdsmd, libvirtd, virtqemud);
--force configures anyway and restarts those services afterwards.
${MODULES}
`,
  'is-configured': `Usage: vdsm-tool is-configured [--module NAME]...

Exit 0 when every selected module is configured; else exit 1, saying what is missing.
${MODULES}
`,
  'remove-config': `Usage: vdsm-tool remove-config [--module NAME]...

Removes the vdsm-ts sections from qemu.conf, qemu-sanlock.conf and sanlock.conf, restoring the lines they had
commented out. Certificates and group memberships stay. Running it again changes nothing.
${MODULES}
`,
  'validate-config': `Usage: vdsm-tool validate-config

Loads /etc/vdsm/vdsm.conf and its drop-ins as vdsmd does and, when ssl = true, its TLS files. Exit 0 when vdsmd
would start with them, else 1 with the reasons.
`,
  ...Object.fromEntries(
    ['start', 'stop', 'restart', 'status'].map((verb) => [
      `service-${verb}`,
      `Usage: vdsm-tool service-${verb} NAME

${verb === 'status' ? 'Prints whether the service is active; exit 0 when it is, else non-zero.' : `${verb[0]!.toUpperCase()}${verb.slice(1)}s the service through systemd.`}
Services: ${Object.keys(SERVICE_UNITS).join(', ')}.
`,
    ]),
  ),
};

export const USAGE = `Usage: vdsm-tool VERB [options]

Sets up the host for vdsmd and controls its services.

${Object.values(VERB_HELP)
  .map((h) => `  ${h.split('\n')[0]!.replace('Usage: vdsm-tool ', '')}`)
  .join('\n')}

'vdsm-tool VERB --help' describes a verb. Every path is under $VDSM_TOOL_ROOT (default /).
Exit codes: 0 done (is-configured: configured; service-status: active), 1 otherwise.
`;
