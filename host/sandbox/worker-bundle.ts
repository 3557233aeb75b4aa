// The code a module's worker runs, as plain JavaScript. Node strips
// TypeScript types by loading a TypeScript parser into every thread that
// imports a .ts file, which costs each worker about 10 MB; so the worker entry
// and the capabilities' worker halves are bundled (esbuild) into
// .cache/worker/<content hash>/, and workers load that. A start whose inputs
// are the same bytes as the last build's (listed with their hashes in the
// cache) reuses it without loading esbuild at all: about 90 ms of a warm start.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const hostDir = fileURLToPath(new URL('../', import.meta.url));

export interface WorkerBundle {
  /** The worker's entry point. */
  entry: URL;
  /** The bundled module of a capability's worker half, by its source URL. */
  workerHalf(source: string): string;
  /** The bundled modules of all the worker halves it was made with. */
  halves: string[];
  /** Where workers keep V8's compiled code (see worker.ts). */
  compileCacheDir: string;
}

let bundled: Promise<WorkerBundle> | undefined;

/** Bundles host/sandbox/worker.ts and the given worker halves (source URLs), once per process. */
export function workerBundle(halves: readonly string[], cacheDir: string): Promise<WorkerBundle> {
  bundled ??= make(halves, cacheDir);
  return bundled;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** What the last build of these entry points read, and where it went. */
interface Manifest {
  dir: string;
  inputs: [path: string, hash: string][];
}

/** The bundle of the last build, if every file it read still has the same bytes. */
function reuse(manifestPath: string): string | undefined {
  try {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    if (!existsSync(m.dir)) return undefined;
    for (const [path, hash] of m.inputs) if (sha256(readFileSync(path)) !== hash) return undefined;
    return m.dir;
  } catch {
    return undefined;
  }
}

/** The bundle of the worker entry and `halves`, reused from `cacheDir` when its inputs are unchanged (not memoized: tests call it directly). */
export async function make(halves: readonly string[], cacheDir: string): Promise<WorkerBundle> {
  const sources = [join(hostDir, 'sandbox/worker.ts'), ...halves.map((h) => fileURLToPath(h))];
  const manifestPath = join(cacheDir, `inputs-${sha256(sources.join('\n')).slice(0, 16)}.json`);
  const dir = reuse(manifestPath) ?? (await bundle(sources, cacheDir, manifestPath));
  const js = (source: string) => pathToFileURL(join(dir, relative(hostDir, source).replace(/\.ts$/, '.js')));
  return {
    compileCacheDir: join(cacheDir, 'v8'),
    entry: js(sources[0]),
    workerHalf: (source) => js(fileURLToPath(source)).href,
    halves: sources.slice(1).map((source) => js(source).href),
  };
}

/** Bundles `sources` into the cache; returns the folder and records what the build read. */
async function bundle(sources: string[], cacheDir: string, manifestPath: string): Promise<string> {
  const { build } = await import('esbuild');
  const started = Date.now();
  const result = await build({
    entryPoints: sources,
    outbase: hostDir,
    outdir: '/',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    write: false,
    logLevel: 'silent',
    metafile: true,
    // Loaded by the transpiled component at run time, not bundled.
    external: ['@bytecodealliance/*'],
  });
  const hash = createHash('sha256');
  for (const f of result.outputFiles) hash.update(f.path).update(f.contents);
  const dir = join(cacheDir, hash.digest('hex').slice(0, 16));
  if (!existsSync(dir)) {
    // Written beside the final place and renamed: a concurrent start never sees half a bundle.
    const tmp = `${dir}.tmp-${process.pid}`;
    for (const f of result.outputFiles) {
      const out = join(tmp, f.path);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, f.contents);
    }
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  try {
    // esbuild names inputs relative to its working directory (this process's). A file changed
    // since the build started may differ from what was bundled: then no manifest, and the next
    // start builds again.
    const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(p));
    if (inputs.every((p) => statSync(p).mtimeMs < started)) {
      const manifest: Manifest = { dir, inputs: inputs.map((p) => [p, sha256(readFileSync(p))]) };
      writeFileSync(`${manifestPath}.tmp-${process.pid}`, JSON.stringify(manifest));
      renameSync(`${manifestPath}.tmp-${process.pid}`, manifestPath);
    }
  } catch {
    // Without a manifest the next start only builds again.
  }
  return dir;
}
