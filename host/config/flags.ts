// Module flags: `--<module>-<suffix>`, one for each flag of each capability a
// module's world imports. `--uplink-allowed-host` exists because the config has
// a module named `uplink` whose world imports outbound-http; nothing here
// knows any module by name.

import type { CapabilityFlag, RawModule } from '../capabilities/capability.ts';
import { capabilities, capabilitiesOf } from '../capabilities/index.ts';
import { HostError } from '../errors.ts';
import { globalFlags } from './cli.ts';

/** A module flag that applies to a module of this config. */
export interface ModuleFlag {
  flag: string;
  module: string;
  spec: CapabilityFlag;
}

/** Every module flag the given modules have (module name -> the interfaces its world imports). */
export function moduleFlagsOf(modules: Map<string, readonly string[]>): ModuleFlag[] {
  const out: ModuleFlag[] = [];
  for (const [module, imports] of modules) {
    for (const cap of capabilitiesOf(imports)) {
      for (const spec of cap.flags ?? []) out.push({ flag: `--${module}-${spec.suffix}`, module, spec });
    }
  }
  return out;
}

/**
 * Applies the module flags to the raw config; returns key path -> flag, to
 * name the flag in config errors. Unknown flags, and flags for a module the
 * config lacks, are usage errors that say what exists.
 */
export function applyModuleFlags(
  given: [flag: string, value: string][],
  rawModules: Record<string, RawModule>,
  imports: Map<string, readonly string[]>,
  file: string,
): Map<string, string> {
  const known = new Map(moduleFlagsOf(imports).map((f) => [f.flag, f]));
  const values = new Map<string, string[]>();
  for (const [flag, value] of given) {
    const f = known.get(flag);
    if (!f) throw unknownFlag(flag, known, rawModules, file);
    const list = values.get(flag) ?? [];
    if (!f.spec.multiple && list.length > 0) throw new HostError('EH_CLI_USAGE', `${flag} was given more than once; it takes one value`);
    list.push(value);
    values.set(flag, list);
  }
  const fromFlags = new Map<string, string>();
  for (const [flag, list] of values) {
    const { module, spec } = known.get(flag)!;
    for (const path of spec.apply(rawModules[module], list)) fromFlags.set(`modules.${module}.${path}`, flag);
  }
  return fromFlags;
}

function unknownFlag(flag: string, known: Map<string, ModuleFlag>, rawModules: Record<string, RawModule>, file: string): HostError {
  // Which capability flag it is meant to be, by its ending: then say which module it needs.
  for (const cap of capabilities) {
    for (const spec of cap.flags ?? []) {
      const suffix = `-${spec.suffix}`;
      if (!flag.endsWith(suffix) || flag.length <= suffix.length + 2) continue;
      const module = flag.slice(2, -suffix.length);
      if (!Object.hasOwn(rawModules, module)) {
        return new HostError('EH_CLI_USAGE', `${flag} applies to the module named "${module}", but ${file} has no modules.${module}`);
      }
      return new HostError(
        'EH_CLI_USAGE',
        `${flag}: module "${module}" has no ${cap.name} capability (its world does not import ${cap.interfaces[0]}), so it has no --${module}-${spec.suffix}`,
      );
    }
  }
  const available = [...known.keys()].sort();
  return new HostError(
    'EH_CLI_USAGE',
    `unknown option ${flag}. Host options: ${globalFlags.map((g) => `--${g.name}`).join(', ')}; module options for ${file}: ${available.join(', ') || '(none)'}. Run with --help for the list of options.`,
  );
}

/** `--help`: the host flags, the module flags of the config when it could be read, and the generic forms. */
export function usage(modules: Map<string, readonly string[]> | undefined, file: string): string {
  const lines: string[] = ['Usage: npm start -- [options]', '', 'Runs the modules listed in the host config, each in its own sandbox.', '', 'Options:'];
  const row = (left: string, help: string) => lines.push(`  ${left.padEnd(40)} ${help}`);
  for (const g of globalFlags) row(`--${g.name}${g.value ? ` ${g.value}` : ''}`, g.help);
  if (modules && modules.size > 0) {
    lines.push('', `Module options (for the modules in ${file}):`);
    for (const f of moduleFlagsOf(modules)) row(`${f.flag} ${f.spec.value}`, f.spec.help.replaceAll('<module>', f.module));
  }
  lines.push('', 'Every module gets these options, by the capabilities its world imports:');
  for (const cap of capabilities) {
    for (const spec of cap.flags ?? []) row(`--<module>-${spec.suffix} ${spec.value}`, `(${cap.name}) ${spec.help}`);
  }
  const examples = moduleFlagsOf(modules ?? new Map()).filter((f) => f.spec.example !== undefined);
  if (examples.length > 0) {
    // One flag per capability, as the config's modules would be started.
    const picked = examples.filter((f, i) => examples.findIndex((g) => g.spec === f.spec) === i).slice(0, 3);
    lines.push('', 'Example:', `  npm start -- ${picked.map((f) => `${f.flag} ${f.spec.example}`).join(' ')}`);
  }
  lines.push('');
  return lines.join('\n');
}
