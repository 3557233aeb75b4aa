import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HostError } from '../errors.ts';
import { asScript, scriptPathOf } from '../sandbox/component-code.ts';

// jco's package.json is not in its exports map: read it from the resolved entry's folder.
const jcoVersion: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('@bytecodealliance/jco')), 'utf8')).version;

export interface TranspileOptions {
  /** Imports that suspend the guest (JSPI), "iface@version#func". */
  asyncImports: string[];
  /** Exports that may call them, "iface@version#func". */
  asyncExports: string[];
}

export interface Transpiled {
  /** Absolute path of the generated JS; its `instantiate(getCoreModule, imports)` builds an instance. */
  jsPath: string;
  /** sha256 of the component's bytes: what a deploy names and `GET /v1/modules` shows. */
  digest: string;
  imports: string[];
  exports: string[];
  cacheHit: boolean;
  key: string;
  ms: number;
}

/**
 * Transpiles a component with jco, through an on-disk cache addressed by the
 * component's bytes, the jco version and the options: a second start with the
 * same component does not transpile again.
 */
export async function transpileCached(componentPath: string, cacheDir: string, options: TranspileOptions): Promise<Transpiled> {
  const started = performance.now();
  const bytes = await readFile(componentPath);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const key = createHash('sha256').update(jcoVersion).update(GLUE_PATCH).update(JSON.stringify(options)).update(bytes).digest('hex').slice(0, 32);
  const dir = join(cacheDir, key);
  const meta = join(dir, 'meta.json');
  if (existsSync(meta)) {
    const { imports, exports } = JSON.parse(await readFile(meta, 'utf8'));
    return { jsPath: join(dir, 'component.js'), digest, imports, exports, cacheHit: true, key, ms: performance.now() - started };
  }
  const result = await runTranspileWorker(bytes, options);
  if (!result.ok) {
    throw new HostError(
      'EH_COMPONENT_INVALID',
      `${componentPath} is not a component jco can transpile: ${result.error}. Build it with "jco componentize" (see README, "Writing a module").`,
    );
  }
  // Write beside the final place and rename: a crash or a concurrent start never leaves a half-written entry.
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  for (const [name, data] of result.files) {
    await mkdir(dirname(join(tmp, name)), { recursive: true });
    await writeFile(join(tmp, name), name.endsWith('.js') ? patchGlue(Buffer.from(data).toString('utf8')) : data);
  }
  // The same glue as a classic script, which workers load with a code cache of the glue that ran (sandbox/component-code.ts).
  const script = asScript(await readFile(join(tmp, 'component.js'), 'utf8'), pathToFileURL(join(dir, 'component.js')).href);
  if (script !== undefined) await writeFile(scriptPathOf(join(tmp, 'component.js')), script);
  await writeFile(join(tmp, 'meta.json'), JSON.stringify({ imports: result.imports, exports: result.exports, jcoVersion, options }));
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true }); // someone else finished first: theirs is identical
  }
  return { jsPath: join(dir, 'component.js'), digest, imports: result.imports, exports: result.exports, cacheHit: false, key, ms: performance.now() - started };
}

// jco 1.35's generated glue calls a debug logger that reads process.env on
// every guest call: 17% of a telemetry worker's profile. Deciding once, when
// the component is instantiated, keeps the behaviour (JCO_DEBUG still works)
// without the per-call cost. If a jco version words it differently the glue
// is left as generated; the string is part of the cache key.
const GLUE_PATCH = 'debuglog-once-v1,script-v1';
const DEBUG_LOG_PER_CALL = 'const _debugLog = (...args) => {\n    if (!globalThis?.process?.env?.JCO_DEBUG) { return; }\n    console.debug(...args);\n  };';
const DEBUG_LOG_ONCE = 'const _debugLog = globalThis?.process?.env?.JCO_DEBUG ? (...args) => console.debug(...args) : () => {};';

export function patchGlue(js: string): string {
  return js.replace(DEBUG_LOG_PER_CALL, DEBUG_LOG_ONCE);
}

type WorkerResult = { ok: true; files: [string, Uint8Array][]; imports: string[]; exports: string[] } | { ok: false; error: string };

function runTranspileWorker(bytes: Uint8Array, options: TranspileOptions): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./transpile-worker.ts', import.meta.url), { workerData: { bytes, ...options } });
    worker.once('message', (m: WorkerResult) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}
