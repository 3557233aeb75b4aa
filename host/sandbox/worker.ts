// Entry point of a module's worker thread: one module instance per worker, so
// a module stuck in a loop blocks only its own thread, and terminating the
// worker discards the instance without touching anyone else. A thread started
// ahead of need (standby.ts) has no workerData: its init is its first message.
import { enableCompileCache } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerInit } from './protocol.ts';
import { type WorkerCapability, WorkerInstance } from './worker-instance.ts';

type Init = WorkerInit & { capabilities: WorkerCapability[] };
const port = parentPort!;
const init: Init = workerData ?? (await new Promise<Init>((resolve) => port.once('message', resolve)));
// V8 keeps the code it compiles for the transpiled component (hundreds of KB of
// JavaScript) on disk: the next instance of the module, a restart or a wake
// from idle sleep, skips parsing and compiling it.
if (init.compileCacheDir) enableCompileCache(init.compileCacheDir);
await new WorkerInstance(init, port).run();
