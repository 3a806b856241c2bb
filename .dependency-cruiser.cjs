/**
 * Which folder may import which (README's layout table): arrows point one way, from the outside in.
 *
 *   src/cli ──▶ everything in src/ and plugins/ (the composition roots: vdsmd, the HA daemons, the CLIs)
 *   coordinator ──▶ verbs, rpc, src/plugins/fence, common
 *   hosted-engine ──▶ verbs, rpc, host, virt, storage, common
 *   verbs ──▶ rpc, host, virt, storage, src/plugins/fence, common
 *   plugins/<agent> ──▶ src/plugins/fence, common (and its own folder)
 *   rpc, host, virt, storage, src/plugins/fence, coordinator/core ──▶ common
 *   common ──▶ nothing of ours
 *
 * Type-only imports count (a type is a dependency too), and so do dynamic imports. `npm run lint:deps` checks it.
 */

/** An import of one of our modules outside `allowed` (regexes of paths, relative to the repository). */
const onlyTo = (name, comment, from, allowed) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: '^(src|plugins)/', pathNot: allowed },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle makes modules that cannot be understood, tested or loaded one without the other.',
      severity: 'error',
      from: { path: '^(src|plugins)/' },
      to: { circular: true },
    },
    onlyTo(
      'common-imports-nothing',
      'src/common holds what every layer shares (vdsm error codes and VdsmError, the event bus, the HA status port): it must stay at the bottom.',
      '^src/common/',
      ['^src/common/'],
    ),
    onlyTo(
      'rpc-only-common',
      'The wire (STOMP, JSON-RPC) carries what the verbs answer and never knows a verb, the host or libvirt.',
      '^src/rpc/',
      ['^src/rpc/', '^src/common/'],
    ),
    onlyTo(
      'host-only-common',
      'Host facts from /proc and /sys serve the verbs; they answer with common errors, not the wire layer.',
      '^src/host/',
      ['^src/host/', '^src/common/'],
    ),
    onlyTo(
      'virt-only-common',
      'The VM container publishes on the common event bus and fails with VdsmError; it knows neither the wire nor a verb.',
      '^src/virt/',
      ['^src/virt/', '^src/common/'],
    ),
    onlyTo(
      'storage-only-common',
      'Storage leases (the sanlock CLI) serve Host.fenceNode and hosted-engine alike, so they import neither.',
      '^src/storage/',
      ['^src/storage/', '^src/common/'],
    ),
    onlyTo(
      'fence-framework-knows-no-agent',
      'The fence framework is generic: agents plug into it (vdsmd hands it the built-in ones), never the other way.',
      '^src/plugins/fence/',
      ['^src/plugins/fence/', '^src/common/'],
    ),
    {
      name: 'agent-only-framework',
      comment: 'A fence agent is its own folder on the framework: it imports no other agent and nothing of vdsmd.',
      severity: 'error',
      from: { path: '^plugins/([^/]+)/' },
      to: { path: '^(src|plugins)/', pathNot: ['^plugins/$1/', '^src/plugins/fence/', '^src/common/'] },
    },
    onlyTo(
      'verbs-below-hosted-engine-and-cli',
      'Verbs bind the host services to the wire; hosted-engine and the CLIs build on them, not the reverse.',
      '^src/verbs/',
      ['^src/verbs/', '^src/common/', '^src/rpc/', '^src/host/', '^src/virt/', '^src/storage/', '^src/plugins/fence/'],
    ),
    onlyTo(
      'hosted-engine-below-cli',
      'Hosted-engine HA uses vdsmd through its wire, verbs and services; only the CLIs start it.',
      '^src/hosted-engine/',
      ['^src/hosted-engine/', '^src/common/', '^src/rpc/', '^src/verbs/', '^src/virt/', '^src/storage/', '^src/host/'],
    ),
    onlyTo(
      'coordinator-below-cli',
      "The HA coordinator (state and leadership on etcd, fencing, VM restarts) reaches hosts through the wire, their verbs' schemas and the fence framework; only the CLIs start it, and nothing else imports it.",
      '^src/coordinator/',
      ['^src/coordinator/', '^src/common/', '^src/rpc/', '^src/verbs/', '^src/plugins/fence/'],
    ),
    onlyTo(
      'coordinator-core-only-common',
      'The coordinator core is pure decisions plus one Env interface: etcd, the hosts and SSH reach it through the Env, never by import.',
      '^src/coordinator/core/',
      ['^src/coordinator/core/', '^src/common/'],
    ),
    {
      name: 'every-folder-has-a-rule',
      comment: 'A new folder of src/ states what it may import here (src/cli may import anything).',
      severity: 'error',
      from: {
        path: '^src/',
        pathNot: '^src/(common|rpc|host|virt|storage|plugins/fence|verbs|hosted-engine|coordinator|cli)/',
      },
      to: { path: '^(src|plugins)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.cc$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
