import type { FenceAgent } from './agent.js';
import { newName, type OptionSpec } from './options.js';
import type { AgentTable } from './table.js';

function getopt(spec: OptionSpec): string {
  const long = `--${spec.long ?? spec.key}${spec.arg ? `=[${spec.arg}]` : ''}`;
  return spec.short ? `-${spec.short}, ${long}` : long;
}

function content(spec: OptionSpec) {
  const c: Record<string, unknown> = { '@type': spec.type };
  if (spec.default !== undefined) c['@default'] = spec.default;
  if (spec.choices) c.option = spec.choices.map((value) => ({ '@value': value }));
  return c;
}

/**
 * The `-o metadata` document, in the shape fence-agents' metadata.rng describes and Pacemaker reads: the same
 * parameter names, types, defaults and order as ClusterLabs' agents; an option whose long name differs from its
 * key appears twice (the old key `deprecated`, the new name `obsoletes` it). Descriptions are ours.
 */
export async function renderMetadata(agent: FenceAgent<unknown>, table: AgentTable): Promise<string> {
  const params: { name: string; order: number; spec: OptionSpec; attrs: Record<string, string> }[] = [];
  for (const spec of table.options) {
    const base = { '@name': '', '@unique': '0', '@required': spec.required ? '1' : '0' };
    const modern = newName(spec);
    if (modern === spec.key) {
      params.push({ name: spec.key, order: spec.order, spec, attrs: { ...base, '@name': spec.key } });
    } else {
      params.push({
        name: spec.key,
        order: spec.order,
        spec,
        attrs: { ...base, '@name': spec.key, '@deprecated': '1' },
      });
      params.push({
        name: modern,
        order: spec.order,
        spec,
        attrs: { ...base, '@name': modern, '@obsoletes': spec.key },
      });
    }
  }
  params.sort((a, b) => a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const doc = {
    'resource-agent': {
      '@name': table.name,
      '@shortdesc': agent.shortdesc,
      symlink: (agent.aliases ?? []).map((a) => ({ '@name': a.name, '@shortdesc': a.shortdesc })),
      longdesc: agent.longdesc,
      'vendor-url': { '#text': agent.vendorUrl ?? '' },
      parameters: {
        parameter: params.map((p) => ({
          ...p.attrs,
          getopt: { '@mixed': getopt(p.spec) },
          content: content(p.spec),
          shortdesc: { '@lang': 'en', '#text': p.spec.description },
        })),
      },
      actions: {
        action: table.actions.map((name) => (name === 'on' ? { '@name': name, '@automatic': '0' } : { '@name': name })),
      },
    },
  };
  // Loaded here, not at start-up: a standalone agent's status or reboot never needs an XML library.
  const { XMLBuilder } = await import('fast-xml-parser');
  const builder = new XMLBuilder({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    textNodeName: '#text',
    format: true,
    indentBy: '\t',
    suppressEmptyNode: true,
  });
  return '<?xml version="1.0" ?>\n' + builder.build(doc);
}
