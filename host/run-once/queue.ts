// Admission for run-once: at most `concurrency` runs at a time, at most
// `queue` more waiting in arrival order; anything past that is refused at
// once (EH_RUN_BUSY, answered 429 with Retry-After), before its body is
// read, so a flood costs the host almost nothing.
import { HostError } from '../errors.ts';

/** A place in the queue: wait for a slot, then release it when the run is over. */
export interface Ticket {
  /** Resolves when the run may start; rejects if `signal` aborts first (the place is given up). */
  turn(signal?: AbortSignal): Promise<void>;
  /** Gives the slot (or the place in line) back; safe to call more than once. */
  release(): void;
}

export class RunBusy extends HostError {
  /** Seconds after which a retry is likely to be admitted. */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super('EH_RUN_BUSY', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class RunQueue {
  readonly concurrency: number;
  readonly capacity: number;
  #running = 0;
  readonly #waiting: { start: () => void }[] = [];
  /** Recent run durations (ms), for Retry-After. */
  readonly #recent: number[] = [];
  #refused = 0;

  constructor(opts: { concurrency: number; queue: number }) {
    this.concurrency = opts.concurrency;
    this.capacity = opts.queue;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs refused since the host started. */
  get refused(): number {
    return this.#refused;
  }

  /** Takes a slot or a place in line, or throws RunBusy. */
  reserve(): Ticket {
    if (this.#running < this.concurrency) {
      this.#running++;
      return this.#ticket(true);
    }
    if (this.#waiting.length >= this.capacity) {
      this.#refused++;
      const seconds = this.#retryAfter();
      throw new RunBusy(
        `${this.#running} runs are running and ${this.#waiting.length} are waiting (admin.run.concurrency ${this.concurrency}, admin.run.queue ${this.capacity}); retry in ${seconds} s`,
        seconds,
      );
    }
    return this.#ticket(false);
  }

  #ticket(started: boolean): Ticket {
    let state: 'waiting' | 'running' | 'done' = started ? 'running' : 'waiting';
    let startedAt = started ? performance.now() : 0;
    let admitted: Promise<void>;
    let entry: { start: () => void } | undefined;
    if (started) admitted = Promise.resolve();
    else {
      admitted = new Promise<void>((resolve) => {
        entry = {
          start: () => {
            state = 'running';
            startedAt = performance.now();
            resolve();
          },
        };
        this.#waiting.push(entry);
      });
    }
    return {
      turn: (signal) => {
        if (!signal || state === 'running') return admitted;
        return new Promise<void>((resolve, reject) => {
          const onAbort = () => reject(signal.reason ?? new Error('aborted'));
          if (signal.aborted) return onAbort();
          signal.addEventListener('abort', onAbort, { once: true });
          void admitted.then(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          });
        });
      },
      release: () => {
        if (state === 'done') return;
        if (state === 'waiting') {
          const i = entry ? this.#waiting.indexOf(entry) : -1;
          if (i !== -1) this.#waiting.splice(i, 1);
          state = 'done';
          return;
        }
        state = 'done';
        this.#recent.push(performance.now() - startedAt);
        if (this.#recent.length > 20) this.#recent.shift();
        const next = this.#waiting.shift();
        // The slot passes straight to the next in line: the count of running stays.
        if (next) next.start();
        else this.#running--;
      },
    };
  }

  /** Whole seconds until the line ahead is likely through one round of slots, at least 1. */
  #retryAfter(): number {
    const avg = this.#recent.length ? this.#recent.reduce((a, b) => a + b, 0) / this.#recent.length : 1000;
    const rounds = Math.ceil((this.#waiting.length + 1) / this.concurrency);
    return Math.max(1, Math.ceil((rounds * avg) / 1000));
  }
}
