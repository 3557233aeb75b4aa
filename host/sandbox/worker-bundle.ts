// The code a module's worker runs, as plain JavaScript. Node strips
// TypeScript types by loading a TypeScript parser into every thread that
// imports a .ts file, which costs each worker about 10 MB; so the worker entry
// and the capabilities' worker halves are bundled once per host start (esbuild,
// tens of milliseconds) into .cache/worker/<content hash>/, and workers load that.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const hostDir = fileURLToPath(new URL('../', import.meta.url));

export interface WorkerBundle {
  /** The worker's entry point. */
  entry: URL;
  /** The bundled module of a capability's worker half, by its source URL. */
  workerHalf(source: string): string;
  /** Where workers keep V8's compiled code (see worker.ts). */
  compileCacheDir: string;
}

let bundled: Promise<WorkerBundle> | undefined;

/** Bundles host/sandbox/worker.ts and the given worker halves (source URLs), once per process. */
export function workerBundle(halves: readonly string[], cacheDir: string): Promise<WorkerBundle> {
  bundled ??= make(halves, cacheDir);
  return bundled;
}

async function make(halves: readonly string[], cacheDir: string): Promise<WorkerBundle> {
  const sources = [join(hostDir, 'sandbox/worker.ts'), ...halves.map((h) => fileURLToPath(h))];
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
  const js = (source: string) => pathToFileURL(join(dir, relative(hostDir, source).replace(/\.ts$/, '.js')));
  return {
    compileCacheDir: join(cacheDir, 'v8'),
    entry: js(sources[0]),
    workerHalf: (source) => js(fileURLToPath(source)).href,
  };
}
