// The control client of the storms: one well-behaved MQTT.js client doing QoS 1 round
// trips one after another (publish, PUBACK, its own message back through its
// subscription), whose losses and latencies say what a storm did to everyone else.
//
// It runs in a worker thread (control-worker.ts) with an event loop of its own: the storms
// run in the process that measures, and a storm that keeps that event loop busy (opening
// hundreds of connections, writing megabytes) would otherwise show up as the broker's latency.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { WAIT_MS, withTimeout } from '../../modules/server/clients.ts';

/** A round trip not completed within this is counted lost (and the next one starts). */
export const ROUND_TRIP_TIMEOUT_MS = 5000;

export interface RoundTripStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** What the worker posts: ready once subscribed, then one message per round trip. */
export type ControlReport = { ready: true } | { rtt: number } | { lost: string } | { failed: string };

export class Control {
  readonly rtts: number[] = [];
  lost = 0;
  readonly #worker: Worker;
  /** Called after each round trip, completed or lost. */
  #watchers = new Set<() => void>();

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (m: ControlReport) => {
      if ('rtt' in m) this.rtts.push(m.rtt);
      else if ('lost' in m) this.lost++;
      for (const w of this.#watchers) w();
    });
  }

  /** Connects as `control` to the broker on `port` (MQTT 3.1.1) and starts the round trips. */
  static async start(port: number): Promise<Control> {
    const worker = new Worker(new URL('./control-worker.ts', import.meta.url), { workerData: { port } });
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: ControlReport) => {
        if ('ready' in m) resolve();
        else if ('failed' in m) reject(new Error(`the control client could not start: ${m.failed}`));
        else return;
        worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    try {
      await withTimeout(ready, WAIT_MS * 2, 'the control client to connect and subscribe');
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    return new Control(worker);
  }

  /** Round trips since `from` (an index into rtts): count, p50, p99, max in ms. */
  stats(from = 0): RoundTripStats {
    const s = this.rtts.slice(from).sort((a, b) => a - b);
    const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
    return { count: s.length, p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? 0 };
  }

  /** Resolves once `more` round trips completed after now, or one was lost. */
  async roundTrips(more: number): Promise<void> {
    const target = this.rtts.length + more;
    const lostBefore = this.lost;
    let watcher = () => {};
    try {
      await withTimeout(
        new Promise<void>((resolve) => {
          watcher = () => {
            if (this.rtts.length >= target || this.lost > lostBefore) resolve();
          };
          this.#watchers.add(watcher);
        }),
        WAIT_MS + ROUND_TRIP_TIMEOUT_MS * more,
        `${more} control round trips`,
      );
    } finally {
      this.#watchers.delete(watcher);
    }
  }

  /** Ends the round trips (the one in progress completes) and the client. */
  async stop(): Promise<void> {
    const exited = once(this.#worker, 'exit');
    this.#worker.postMessage('stop');
    await withTimeout(exited, WAIT_MS + ROUND_TRIP_TIMEOUT_MS, 'the control client to stop').catch(() => this.#worker.terminate());
  }
}
