/**
 * Delays between connection attempts: doubling from `initialMs` up to `maxMs`, each drawn
 * between half and all of the current step ("equal jitter"), so that hosts that lost the
 * same broker at the same moment do not come back at the same moment, yet none retries
 * sooner than half the step.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #stepMs: number;

  constructor(opts: { initialMs: number; maxMs: number }, random: () => number = Math.random) {
    this.#initialMs = opts.initialMs;
    this.#maxMs = opts.maxMs;
    this.#random = random;
    this.#stepMs = opts.initialMs;
  }

  /** The delay before the next attempt; the one after is up to twice as long. */
  next(): number {
    const step = this.#stepMs;
    this.#stepMs = Math.min(step * 2, this.#maxMs);
    return Math.round(step / 2 + (step / 2) * this.#random());
  }

  /** Back to `initialMs`, after a connection that held. */
  reset(): void {
    this.#stepMs = this.#initialMs;
  }
}
