// From a module's component file to what its workers instantiate: transpiled
// (through the on-disk cache), checked against its world, and its core modules
// compiled once. Compiled modules are shared with every worker of the module,
// and reused across restarts and by other modules with the same component.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ResolvedModule } from '../config/load.ts';
import { HostError } from '../errors.ts';
import { capMemories, MemoryCapTooSmall } from './memory-cap.ts';
import { type TranspileOptions, transpileCached } from './transpile-cache.ts';
import { findInterface, platform, wasiPackage } from './wit.ts';
import { checkWorld, describeMismatch } from './world-check.ts';

export interface LoadedComponent {
  /** sha256 of the component file. */
  digest: string;
  /** The transpiled JS entry. */
  jsPath: string;
  /** Core modules by the file name the generated JS asks for. */
  coreModules: Record<string, WebAssembly.Module>;
  cacheHit: boolean;
  /** Transpile cache key. */
  key: string;
  /** Interfaces the component imports, without versions (what the link-time gate checks). */
  imports: string[];
  /** Time to transpile (or find in the cache) and compile. */
  ms: number;
}

const compiled = new Map<string, Promise<Record<string, WebAssembly.Module>>>();

/** Transpiles, checks the world and compiles; throws a HostError naming the module and what is wrong. */
export async function loadComponent(module: ResolvedModule, cacheDir: string): Promise<LoadedComponent> {
  const started = performance.now();
  const transpiled = await transpileCached(module.componentPath, cacheDir, transpileOptions(module));
  const mismatch = checkWorld(module.worldSpec, transpiled.imports, transpiled.exports);
  if (mismatch) {
    throw new HostError(
      'EH_WORLD_MISMATCH',
      `modules.${module.name}: ${describeMismatch(module.componentPath, module.worldSpec, mismatch, transpiled.imports, transpiled.exports)}`,
    );
  }
  // Compiled per memory limit: the limit is part of the code (each memory's maximum).
  const maxBytes = module.limits.maxMemoryMb * 1024 * 1024;
  const compileKey = `${transpiled.key}/${maxBytes}`;
  let coreModules = compiled.get(compileKey);
  if (!coreModules) {
    coreModules = compileAll(dirname(transpiled.jsPath), maxBytes);
    compiled.set(compileKey, coreModules);
    coreModules.catch(() => compiled.delete(compileKey));
  }
  let modules: Record<string, WebAssembly.Module>;
  try {
    modules = await coreModules;
  } catch (e) {
    if (e instanceof MemoryCapTooSmall) throw new HostError('EH_CONFIG_INVALID', `modules.${module.name}.limits.maxMemoryMb: ${e.message}; raise the limit`);
    throw e;
  }
  return {
    digest: transpiled.digest,
    jsPath: transpiled.jsPath,
    coreModules: modules,
    cacheHit: transpiled.cacheHit,
    key: transpiled.key,
    imports: transpiled.imports.map((i) => i.replace(/@[^@/]*$/, '')),
    ms: performance.now() - started,
  };
}

async function compileAll(dir: string, maxMemoryBytes: number): Promise<Record<string, WebAssembly.Module>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.wasm'));
  // V8 compiles on background threads: the main thread's event loop stays free.
  const modules = await Promise.all(names.map(async (n) => [n, await WebAssembly.compile(capMemories(await readFile(join(dir, n)), maxMemoryBytes))] as const));
  return Object.fromEntries(modules);
}

/**
 * Functions that wait on host I/O suspend the guest through JSPI; then every
 * export of that world must be callable asynchronously too. A capability's
 * platform functions count when the world imports their interface; its WASI
 * ones (wasi:io's blocking calls, for streamed bodies) whenever the module has
 * the capability: a world does not name the wasi:io it uses, and jco ignores
 * functions a component does not import.
 */
export function transpileOptions(module: ResolvedModule): TranspileOptions {
  const { version, interfaces } = platform();
  const versioned = (name: string) => (name.startsWith('edgehost:platform/') ? name.replace('#', `@${version}#`) : name);
  const imported = new Set(module.worldSpec.imports);
  const asyncImports = module.capabilities.flatMap((c) =>
    (c.asyncFunctions ?? []).filter((f: string) => f.startsWith('wasi:') || imported.has(f.split('#')[0])).map(versioned),
  );
  if (asyncImports.length === 0) return { asyncImports, asyncExports: [] };
  const asyncExports = module.worldSpec.exports.flatMap((iface) => {
    // WASI exports go by their unversioned name, as in jco's own list (wasi:http/incoming-handler#handle).
    if (iface.startsWith('wasi:')) {
      const def = findInterface([wasiPackage(iface.slice(0, iface.indexOf('/')))], iface);
      return (def?.functions ?? []).map((fn) => `${iface}#${fn.name}`);
    }
    return (interfaces.get(iface.split('/')[1]) ?? []).map((fn) => `${iface}@${version}#${fn}`);
  });
  return { asyncImports, asyncExports };
}
