// How long the guest has been running in its current call, shared between the
// module's worker (which writes it) and the main thread's watchdog (which reads
// it). A worker stuck in a guest loop cannot answer messages, so the watchdog
// must be able to see the time without asking it.
//
// Layout (Float64): [state, segmentStartMs, accumulatedMs]. Time the guest
// spends suspended on host I/O (an HTTP request) is not counted.

const IDLE = 0;
const RUNNING = 1;
const WAITING = 2;

export class CallClock {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Float64Array;

  constructor(buffer = new SharedArrayBuffer(3 * 8)) {
    this.buffer = buffer;
    this.#cells = new Float64Array(buffer);
  }

  start(): void {
    this.#cells[2] = 0;
    this.#cells[1] = Date.now();
    this.#cells[0] = RUNNING;
  }

  /** The guest is suspended waiting on the host. */
  pause(): void {
    if (this.#cells[0] !== RUNNING) return;
    this.#cells[2] += Date.now() - this.#cells[1];
    this.#cells[0] = WAITING;
  }

  resume(): void {
    if (this.#cells[0] !== WAITING) return;
    this.#cells[1] = Date.now();
    this.#cells[0] = RUNNING;
  }

  stop(): void {
    this.#cells[0] = IDLE;
  }

  /** Whether the guest is in a call (running, or waiting on the host). */
  inCall(): boolean {
    return this.#cells[0] !== IDLE;
  }

  /** Milliseconds of guest running time in the current call; 0 when idle. */
  runningMs(now = Date.now()): number {
    const state = this.#cells[0];
    if (state === IDLE) return 0;
    if (state === WAITING) return this.#cells[2];
    return this.#cells[2] + (now - this.#cells[1]);
  }
}
