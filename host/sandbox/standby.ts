// One worker thread started ahead of need, so that a module waking from idle
// sleep (or restarting) does not wait for a thread to boot: booting a Node
// worker and loading the host's worker code is most of what a wake-up costs.
// The spare waits for its WorkerInit as its first message (see worker.ts);
// meanwhile it loads every capability's worker half, which a wake-up would
// otherwise spend about 17 ms on.
import { Worker } from 'node:worker_threads';
import type { StandbyData } from './protocol.ts';
import type { WorkerBundle } from './worker-bundle.ts';

export class StandbyWorker {
  readonly #bundle: WorkerBundle;
  readonly #heapMb: number;
  #spare: Worker | undefined;
  #closed = false;

  constructor(bundle: WorkerBundle, heapMb: number) {
    this.#bundle = bundle;
    this.#heapMb = heapMb;
    this.#refill();
  }

  /** The spare, if it was made with this heap limit (resource limits are fixed when a thread starts); a new spare is started. */
  take(heapMb: number): Worker | undefined {
    if (this.#closed || heapMb !== this.#heapMb || !this.#spare) return undefined;
    const worker = this.#spare;
    this.#spare = undefined;
    // The next one boots once this turn's work is done.
    setImmediate(() => this.#refill());
    return worker;
  }

  close(): void {
    this.#closed = true;
    void this.#spare?.terminate();
    this.#spare = undefined;
  }

  #refill() {
    if (this.#closed || this.#spare) return;
    const workerData: StandbyData = { standby: { preload: this.#bundle.halves, compileCacheDir: this.#bundle.compileCacheDir } };
    const worker = new Worker(this.#bundle.entry, { workerData, env: {}, resourceLimits: workerLimits(this.#heapMb) });
    // A spare must not keep the host alive, and one that dies is replaced.
    worker.unref();
    worker.once('exit', () => {
      if (this.#spare === worker) {
        this.#spare = undefined;
        if (!this.#closed) setTimeout(() => this.#refill(), 1000).unref();
      }
    });
    this.#spare = worker;
  }
}

/**
 * The limits of a module's worker: `heapMb` for its JavaScript, and a small
 * young generation: a worker's garbage is small per call, and its pages count
 * against every module's resident memory (2 MB against the default: about 3 MB
 * less per module, measured with bench/memory.ts).
 */
export function workerLimits(heapMb: number) {
  return { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 2 };
}
