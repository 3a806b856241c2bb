import { ToolError } from '../context.js';
import { certificatesModule } from './certificates.js';
import { libvirtModule } from './libvirt.js';
import type { ToolModule } from './module.js';
import { sanlockModule } from './sanlock.js';

export type { ToolModule } from './module.js';

/** Every module, in the order configure runs them (upstream's libvirt requires certificates). */
export const MODULES: readonly ToolModule[] = [certificatesModule, libvirtModule, sanlockModule];

export const moduleNames = () => MODULES.flatMap((m) => [m.name, ...(m.aliases ?? [])]);

/** The modules `--module` names (each once, in MODULES order); all of them when none is named. */
export function selectModules(names: readonly string[] | undefined): ToolModule[] {
  if (!names || names.length === 0) return [...MODULES];
  for (const name of names)
    if (!MODULES.some((m) => m.name === name || m.aliases?.includes(name)))
      throw new ToolError(`unknown module '${name}' (modules: ${moduleNames().join(', ')})`);
  return MODULES.filter((m) => names.some((n) => n === m.name || m.aliases?.includes(n)));
}
