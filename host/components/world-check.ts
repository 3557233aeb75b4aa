import type { World } from './wit.ts';
import { platform, wasiWorld } from './wit.ts';

const unversioned = (name: string) => name.replace(/@[^@/]*$/, '');

export interface WorldMismatch {
  extraImports: string[];
  missingExports: string[];
  extraExports: string[];
}

/**
 * Compares what a component imports and exports with its configured world.
 * WASI imports are always accepted: the host answers them itself, deny-by-default.
 * Interfaces a world's imports `use` (edgehost:platform/types) are accepted too.
 */
export function checkWorld(world: World, imports: string[], exports: string[]): WorldMismatch | undefined {
  const allowed = new Set([...world.imports, 'edgehost:platform/types']);
  const extraImports = imports.map(unversioned).filter((i) => !i.startsWith('wasi:') && !allowed.has(i));
  const exported = new Set(exports.filter((e) => e.includes(':')).map(unversioned));
  const missingExports = world.exports.filter((e) => !exported.has(e));
  const extraExports = [...exported].filter((e) => !world.exports.includes(e));
  if (extraImports.length + missingExports.length + extraExports.length === 0) return undefined;
  return { extraImports, missingExports, extraExports };
}

/** A message that names what does not fit, and the platform world the component does fit, if any. */
export function describeMismatch(componentPath: string, world: World, mismatch: WorldMismatch, imports: string[], exports: string[]): string {
  const parts: string[] = [];
  if (mismatch.extraImports.length) parts.push(`imports ${mismatch.extraImports.join(', ')}, which world "${world.name}" does not provide`);
  if (mismatch.missingExports.length) parts.push(`does not export ${mismatch.missingExports.join(', ')}, which world "${world.name}" requires`);
  if (mismatch.extraExports.length) parts.push(`exports ${mismatch.extraExports.join(', ')}, which world "${world.name}" does not have`);
  // The standard world a component built for any wasi:http host targets is a candidate too.
  const candidates = [...platform().worlds.values(), wasiWorld('wasi:http/proxy')].filter((w): w is World => w !== undefined);
  const fits = candidates.find((w) => w.name !== world.name && !checkWorld(w, imports, exports));
  const hint = fits
    ? `It targets world "${fits.name}": set the module's world to "${fits.name}" or use another component.`
    : `Rebuild it against world "${world.name}" (jco componentize --world-name ${world.name}).`;
  return `component ${componentPath} does not target world "${world.name}": it ${parts.join('; it ')}. ${hint}`;
}
