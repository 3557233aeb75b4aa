// What a module's worker counts about itself (its guest calls, refusals, limit
// hits, memory, the guest's own metrics), kept here and handed to the main
// thread at most once a second: counting on the data path must not cost a
// thread crossing per event.
import { CALL_BUCKETS } from '../metrics/collected.ts';

export interface CallHistogram {
  buckets: number[];
  sum: number;
  count: number;
}

/** One series a guest reports (edgehost:platform/metrics); labels in name order. */
export interface GuestSeries {
  name: string;
  type: 'counter' | 'gauge';
  labels: [string, string][];
  value: number;
}

/** What crosses to the main thread: totals since the instance started (the main thread adds instances up). */
export interface WorkerMetricsSnapshot {
  calls: Record<string, CallHistogram>;
  /** By outcome: `err` (the guest answered an error) or `trap`. */
  failures: Record<string, number>;
  denied: Record<string, number>;
  limits: Record<string, number>;
  memoryBytes: number;
  /** Gauges and counters the guest reports itself (edgehost:platform/metrics), by series key. */
  guest: Record<string, GuestSeries>;
}

export class WorkerMetrics {
  readonly snapshot: WorkerMetricsSnapshot = { calls: {}, failures: {}, denied: {}, limits: {}, memoryBytes: 0, guest: {} };
  /** Off, nothing is counted and nothing is sent (the host's metrics are turned off). */
  readonly enabled: boolean;
  #dirty = false;
  #lastSent = 0;

  constructor(enabled = true) {
    this.enabled = enabled;
  }

  call(fn: string, seconds: number): void {
    if (!this.enabled) return;
    let h = this.snapshot.calls[fn];
    if (!h) {
      h = { buckets: new Array(CALL_BUCKETS.length).fill(0), sum: 0, count: 0 };
      this.snapshot.calls[fn] = h;
    }
    let i = 0;
    while (i < CALL_BUCKETS.length && seconds > CALL_BUCKETS[i]) i++;
    if (i < CALL_BUCKETS.length) h.buckets[i]++;
    h.sum += seconds;
    h.count++;
    this.#dirty = true;
  }

  count(kind: 'failures' | 'denied' | 'limits', key: string): void {
    if (!this.enabled) return;
    this.snapshot[kind][key] = (this.snapshot[kind][key] ?? 0) + 1;
    this.#dirty = true;
  }

  memory(bytes: number): void {
    if (!this.enabled) return;
    if (bytes !== this.snapshot.memoryBytes) this.#dirty = true;
    this.snapshot.memoryBytes = bytes;
  }

  /**
   * Adds a series the guest reports to what is sent. The caller keeps the
   * object and updates its value in place (then calls markDirty): a guest's
   * call costs a property write, not a lookup here.
   */
  guestSeries(key: string, series: GuestSeries): void {
    if (!this.enabled) return;
    this.snapshot.guest[key] = series;
    this.#dirty = true;
  }

  markDirty(): void {
    if (this.enabled) this.#dirty = true;
  }

  /** The snapshot to send now, if anything changed and a second has passed since the last one. */
  due(now = performance.now()): WorkerMetricsSnapshot | undefined {
    if (!this.#dirty || now - this.#lastSent < 1000) return undefined;
    this.#dirty = false;
    this.#lastSent = now;
    return this.snapshot;
  }
}
