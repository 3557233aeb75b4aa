// Entry point of a module's worker thread: one module instance per worker, so
// a module stuck in a loop blocks only its own thread, and terminating the
// worker discards the instance without touching anyone else. A thread started
// ahead of need (standby.ts) gets its init as its first message, and loads the
// capabilities' worker halves while it waits.
import { enableCompileCache } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { StandbyData, WorkerInit } from './protocol.ts';
import { type WorkerCapability, WorkerInstance } from './worker-instance.ts';

type Init = WorkerInit & { capabilities: WorkerCapability[] };
const port = parentPort!;
const data = workerData as Init | StandbyData;

// V8 keeps the code it compiles for the transpiled component (hundreds of KB of
// JavaScript) on disk: the next instance of the module, a restart or a wake
// from idle sleep, skips parsing and compiling it.
let init: Init;
if ('standby' in data) {
  const first = new Promise<Init>((resolve) => port.once('message', resolve));
  enableCompileCache(data.standby.compileCacheDir);
  // A half that fails to load here fails again, with its error, when the instance imports it.
  await Promise.all(data.standby.preload.map((url) => import(url).catch(() => {})));
  init = await first;
} else {
  init = data;
  if (init.compileCacheDir) enableCompileCache(init.compileCacheDir);
}
await new WorkerInstance(init, port).run();
