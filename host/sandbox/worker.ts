// Entry point of a module's worker thread: one module instance per worker, so
// a module stuck in a loop blocks only its own thread, and terminating the
// worker discards the instance without touching anyone else.
import { parentPort, workerData } from 'node:worker_threads';
import { WorkerInstance } from './worker-instance.ts';

await new WorkerInstance(workerData, parentPort!).run();
