// Diagnostic only, used by bench/pipeline.ts when BENCH_CPU_PROF_DIR is set: loaded into the
// host child with `--import`, next to `--cpu-prof` in NODE_OPTIONS, so that the module
// workers are profiled too. Two obstacles, both on the host's main thread:
//   - the host starts each worker with `env: {}`, and a worker given an env takes its
//     NODE_OPTIONS from there: no --cpu-prof. Worker is wrapped (and the builtin's ESM
//     exports re-synced) to pass NODE_OPTIONS on. The guest still sees no environment: WASI's
//     is separate.
//   - at shutdown the host terminates each worker as soon as it said "stopped" and exits right
//     after, which cuts the workers off while V8 writes their profiles; both are delayed a little.
// Neither changes anything while the bench measures.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const require = createRequire(import.meta.url);
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const Original = wt.Worker;
  const nodeOptions = process.env.NODE_OPTIONS ?? '';
  class ProfiledWorker extends Original {
    constructor(filename: string | URL, options: import('node:worker_threads').WorkerOptions = {}) {
      super(
        filename,
        options.env && typeof options.env === 'object' ? { ...options, env: { ...(options.env as object), NODE_OPTIONS: nodeOptions } } : options,
      );
    }
    terminate(): Promise<number> {
      return new Promise((resolve) => setTimeout(() => resolve(super.terminate()), 1500));
    }
  }
  wt.Worker = ProfiledWorker;
  syncBuiltinESMExports();
  const exit = process.exit.bind(process);
  process.exit = ((code?: number) => {
    setTimeout(() => exit(code), 2500);
  }) as typeof process.exit;
}
