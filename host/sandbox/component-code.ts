// Loads a transpiled component's JavaScript (jco's output) with V8's code
// cache of the functions that ran, not only of those compiled at load.
//
// jco puts nearly all of its glue (about 26,000 lines for a QuickJS guest)
// inside `instantiate`, which V8 compiles lazily, on its first call. Node's
// compile cache (enableCompileCache) stores what is compiled when a module
// loads, so every new instance, every restart and every wake from idle sleep
// parsed and compiled that function again: 13 to 21 ms of a 50 to 60 ms wake.
// Loaded as a classic script instead, the code cache can be made after the
// first instance ran (`createCachedData`), and it then holds the glue too. It
// is kept beside component.js, per Node version; V8 rejects a cache that does
// not fit its source or its flags, and a rejected one is made again.
//
// The transpile cache writes the script form (component.script.js) beside
// component.js when jco's output has the shape `asScript` knows; otherwise
// (another jco version's shape) component.js is imported as the ES module it is.
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

export type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: unknown,
  instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => Promise<WebAssembly.Instance>,
) => Promise<unknown>;

export interface ComponentCode {
  instantiate: Instantiate;
  /** V8 took the glue's compiled code from the kept cache. */
  fromCache: boolean;
  /** Writes the code cache if there was none that V8 accepted (call once an instance ran); never throws. */
  keepCache(): Promise<void>;
}

const EXPORTS = /^export (function|const) /gm;

/** jco's module as the body of a function returning `instantiate`, or undefined if it is not the expected shape. */
export function asScript(source: string, url: string): string | undefined {
  const exported = [...source.matchAll(/^export (?:function|const) (\w+)/gm)].map((m) => m[1]);
  if (!exported.includes('instantiate') || exported.some((name) => name !== 'instantiate' && name !== '_util')) return undefined;
  if (/^\s*import\s/m.test(source)) return undefined;
  // Module code is strict; a script must ask for it. `import.meta.url` (where jco would fetch
  // core modules we always pass in) is not valid in a script: its value is the file's URL.
  const body = source.replace(EXPORTS, '$1 ').replaceAll('import.meta.url', JSON.stringify(url));
  // One line of wrapper, so that line numbers in stack traces are component.js's own.
  return `"use strict";(function(){${body}\n;return instantiate;})()`;
}

/** Where the transpile cache keeps `asScript` of a component.js, when jco's output had the expected shape. */
export const scriptPathOf = (jsPath: string) => jsPath.replace(/\.js$/, '.script.js');

export async function loadComponentCode(jsPath: string): Promise<ComponentCode> {
  const scriptPath = scriptPathOf(jsPath);
  if (!existsSync(scriptPath)) {
    const { instantiate } = (await import(pathToFileURL(jsPath).href)) as { instantiate: Instantiate };
    return { instantiate, fromCache: false, keepCache: async () => {} };
  }
  const cachePath = `${scriptPath}.${process.version}.v8cache`;
  // Synchronous: this thread has nothing else to do until the component is instantiated.
  const source = readFileSync(scriptPath, 'utf8');
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cachePath);
  } catch {
    // None yet: this instance makes it.
  }
  const compiled = new vm.Script(source, {
    // Stack traces name component.js, whose line numbers the script keeps.
    filename: jsPath,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const instantiate = compiled.runInThisContext() as Instantiate;
  const fromCache = cachedData !== undefined && !compiled.cachedDataRejected;
  let kept = fromCache;
  return {
    instantiate,
    fromCache,
    async keepCache() {
      if (kept) return;
      kept = true;
      try {
        // Written beside and renamed: instances starting at the same time never read half a file.
        const tmp = `${cachePath}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
        await writeFile(tmp, compiled.createCachedData());
        await rename(tmp, cachePath);
      } catch {
        // Without a cache the next instance compiles the glue again, as it would have anyway.
      }
    },
  };
}
