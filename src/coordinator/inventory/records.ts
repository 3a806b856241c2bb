/**
 * What an admin tells the coordinator about hosts and VMs, as stored in etcd (one JSON value per key, validated on
 * every read and write). No secret is ever part of a record: a BMC password or an SSH private key is named here
 * (`passwordRef`, `keyRef`) and read from a file of that name in the coordinator's secrets directory (mode 0600).
 * Every object is strict: a key the schema does not name (a `password` slipped in) is refused, not dropped.
 */
import { z } from 'zod';
import { DEFAULT_PROXY_PREFERENCE, type HostSpec, PROXY_SOURCES } from '../core/types.js';

/** Host ids, agent names and secret names: safe as etcd key parts and file names. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const name = z.string().regex(NAME, 'letters, digits, ".", "_" and "-" (at most 63), not starting with a sign');
/** A VM's id: its domain UUID in lower case (as libvirt and vdsmd report it). */
export const VM_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Fence options that carry a secret (the framework marks them `secret: true`), or look like they do. */
const SECRET_OPTION = /passw|secret|community|(^|_)kg$/;

/** One fence agent of a host, as `Host.fenceNode` on a proxy will run it (the password comes from `passwordRef`). */
export const fenceAgentRecord = z.strictObject({
  /** This agent's name within the host (the core's FenceAgentRef.name). */
  name,
  /** Agent type without `fence_`, as Host.fenceNode takes it: ipmilan, ilo4, apc_snmp, drac5, ... */
  type: z.string().regex(/^[a-z0-9_]+$/),
  address: z.string().min(1),
  /** Plug or outlet on a shared device ("" when none). */
  plug: z.string().default(''),
  username: z.string().default(''),
  /** Name of the secrets file holding the password; absent: no password. */
  passwordRef: name.optional(),
  /**
   * More agent options (Host.fenceNode's newline-separated key=value `options`), e.g. {lanplus: '1', ipport: '623'};
   * never a secret (a password, an SNMP community, an IPMI Kg): those are refused by name.
   */
  options: z
    .record(
      z
        .string()
        .regex(/^[a-z0-9_]+$/)
        .refine((k) => !SECRET_OPTION.test(k), 'names a secret, which is never stored: use passwordRef'),
      z.string(),
    )
    .default({}),
  secure: z.boolean().default(false),
  /** Agents with the same order form a concurrent group (all must confirm OFF); lower orders are tried first. */
  order: z.number().int().min(1).default(1),
});
export type FenceAgentRecord = z.output<typeof fenceAgentRecord>;

/** Soft fencing over SSH: the host key is pinned, the private key comes from `keyRef`. */
export const sshRecord = z.strictObject({
  user: z.string().default('root'),
  port: z.number().int().min(1).max(65535).default(22),
  /** OpenSSH's form, `SHA256:<base64 without padding>` (ssh-keygen -lf, ssh-keyscan | ssh-keygen -lf -). */
  hostKeySha256: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/),
  keyRef: name,
  /** What soft fencing runs (the engine's command by default). */
  command: z.string().default('/usr/bin/vdsm-tool service-restart vdsmd'),
});
export type SshRecord = z.output<typeof sshRecord>;

/** A host as `host add` records it under `/vdsm-ts/coordinator/hosts/<id>`. */
export const hostRecord = z.strictObject({
  id: name,
  /** Where its vdsmd listens (management address). */
  address: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(54321),
  cluster: name.default('Default'),
  agents: z.array(fenceAgentRecord).default([]),
  ssh: sshRecord.optional(),
  /**
   * The host's id in each storage domain's sanlock lockspace ({<domain UUID>: <host id>}): the engine's fencing policy,
   * so a proxy skips powering it off while its lease there is still renewed (Host.fenceNode, storageDomainHostIdMap).
   */
  storageHostIds: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.number().int().min(1).max(2000)).default({}),
  /** Where a fence proxy comes from, in order (the engine's preference): `cluster` its own, `dc` any cluster. */
  proxyPreference: z
    .array(z.enum(PROXY_SOURCES))
    .min(1)
    .refine((l) => new Set(l).size === l.length, 'each source once')
    .default([...DEFAULT_PROXY_PREFERENCE]),
});
export type HostRecord = z.output<typeof hostRecord>;
export type HostRecordInput = z.input<typeof hostRecord>;

/** A VM as `vm define` records it under `/vdsm-ts/coordinator/vm-defs/<id>` (the core's record is separate). */
export const vmDefinitionRecord = z.strictObject({
  /** The domain's UUID (from the XML), lower case; libvirt takes any 128-bit value, not only RFC 4122 variants. */
  id: z.string().regex(VM_ID, 'a UUID in lower case'),
  name: z.string().min(1),
  /** The libvirt domain XML VM.create is given. */
  xml: z.string().min(1),
  ha: z.boolean().default(false),
  priority: z.number().int().min(0).max(100).default(50),
  memMiB: z.number().int().min(1),
});
export type VmDefinitionRecord = z.output<typeof vmDefinitionRecord>;

/** What the core knows of a recorded host (its state records add maintenance and the rest). */
export function hostSpecOf(rec: HostRecord): HostSpec {
  const pref = rec.proxyPreference;
  const isDefault =
    pref.length === DEFAULT_PROXY_PREFERENCE.length && pref.every((p, i) => p === DEFAULT_PROXY_PREFERENCE[i]);
  return {
    id: rec.id,
    cluster: rec.cluster,
    agents: rec.agents.map((a) => ({ name: a.name, order: a.order })),
    ...(isDefault ? {} : { proxyPreference: [...pref] }),
  };
}
