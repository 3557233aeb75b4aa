import { topicFilterProblem } from './topic.ts';

export interface BusMessage {
  topic: string;
  /** Shared by every subscriber the message goes to: never mutate it. */
  payload: Uint8Array;
  /** ms since the epoch, from the bus clock. */
  publishedAt: number;
  /** Module name of the publisher; undefined for host code. */
  publisher?: string;
}

export type OverflowPolicy = 'drop-oldest' | 'drop-newest';

export interface SubscriberOptions {
  /** Most messages per delivery call. */
  maxBatch: number;
  /** Wait up to this long for a batch to fill; 0 delivers as soon as possible. */
  lingerMs: number;
  /** Most queued messages, not counting the batch in flight. */
  capacity: number;
  overflow: OverflowPolicy;
  /** Don't deliver messages whose publisher is this subscriber's id. */
  noLocal: boolean;
  /** Backoff after a failed delivery: starts here, doubles, capped at retryMaxMs. */
  retryInitialMs: number;
  retryMaxMs: number;
}

export interface SubscriberStats {
  /** Messages waiting for a delivery, not counting the batch in flight. */
  queued: number;
  /** Messages in the batch being delivered, or waiting for its retry after a failure. */
  inFlight: number;
  delivered: number;
  failedDeliveries: number;
  dropped: number;
  filters: string[];
  paused: boolean;
  /** Whether the batch in flight failed and waits for its retry. */
  retrying: boolean;
}

/** Resolves when the batch was handled; rejects when it was not (it is then retried). */
export type DeliverFn = (batch: BusMessage[]) => Promise<void>;

/** What a subscriber needs from its bus. Internal: only Bus creates subscribers. */
export interface SubscriberLink {
  addFilter(filter: string): void;
  removeFilter(filter: string): void;
  now(): number;
  overflowed(dropped: BusMessage): void;
  /** Receives the operations only the bus may call. */
  attach(control: SubscriberControl): void;
}

/** Internal: the bus's handle on a subscriber. */
export interface SubscriberControl {
  enqueue(message: BusMessage): void;
  /** Detaches the subscriber and returns everything not yet delivered, in order. */
  close(): BusMessage[];
}

/** Past this many consumed slots at the head, the queue array is compacted. */
const COMPACT_AT = 1024;

/**
 * One consumer of the bus: its filters, its queue, and the delivery loop that
 * hands the queue to `deliver` in order, one batch at a time.
 */
export class Subscriber {
  readonly id: string;
  readonly #options: SubscriberOptions;
  readonly #deliver: DeliverFn;
  readonly #link: SubscriberLink;
  readonly #filters = new Set<string>();

  // Queue as an array plus a head index: dropping the oldest and taking a
  // batch off the front stay O(1) amortised instead of shifting the array.
  #queue: BusMessage[] = [];
  #head = 0;

  /** The batch being delivered, or that failed and waits for its retry. */
  #batch: BusMessage[] | undefined;
  #delivering = false;
  #paused = false;
  #closed = false;

  /** At most one of these is pending at a time: the single wake-up of this subscriber. */
  #microtaskPending = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerKind: 'linger' | 'retry' | undefined;
  #backoffMs: number;

  #delivered = 0;
  #failedDeliveries = 0;
  #dropped = 0;

  #idleWaiters: (() => void)[] = [];

  constructor(id: string, options: SubscriberOptions, deliver: DeliverFn, link: SubscriberLink) {
    this.id = id;
    this.#options = { ...options };
    this.#deliver = deliver;
    this.#link = link;
    this.#backoffMs = options.retryInitialMs;
    link.attach({ enqueue: (m) => this.#enqueue(m), close: () => this.#close() });
  }

  get options(): Readonly<SubscriberOptions> {
    return this.#options;
  }

  /** Throws Error(reason) for an invalid filter; subscribing twice to a filter is a no-op. */
  subscribe(filter: string): void {
    const problem = topicFilterProblem(filter);
    if (problem) throw new Error(problem);
    // A removed subscriber is no longer routed to; keeping its filters out of
    // the index stops late subscribe calls from a dying module leaking entries.
    if (this.#closed || this.#filters.has(filter)) return;
    this.#filters.add(filter);
    this.#link.addFilter(filter);
  }

  /** An unknown filter is ignored. Messages already queued stay queued. */
  unsubscribe(filter: string): void {
    if (!this.#filters.delete(filter)) return;
    if (!this.#closed) this.#link.removeFilter(filter);
  }

  /** Stops starting deliveries; the queue keeps filling and a delivery in flight finishes. */
  pause(): void {
    this.#paused = true;
    if (this.#timerKind === 'linger') this.#clearTimer();
  }

  /**
   * Starts delivering again. A batch waiting for its retry is retried at once:
   * resuming means the consumer is ready again (the supervisor resumes after
   * restarting a module), so the backoff from its earlier failure no longer applies.
   */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#timerKind === 'retry') this.#clearTimer();
    this.#wake();
  }

  stats(): SubscriberStats {
    return {
      queued: this.#queue.length - this.#head,
      inFlight: this.#batch?.length ?? 0,
      delivered: this.#delivered,
      failedDeliveries: this.#failedDeliveries,
      dropped: this.#dropped,
      filters: [...this.#filters],
      paused: this.#paused,
      retrying: this.#batch !== undefined && !this.#delivering,
    };
  }

  /** Resolves when nothing is queued or in flight (or the subscriber was removed). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#closed || (this.#batch === undefined && this.#queue.length === this.#head);
  }

  #settleIdle() {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #enqueue(message: BusMessage) {
    if (this.#closed) return;
    const { capacity, overflow, maxBatch } = this.#options;
    const queued = this.#queue.length - this.#head;
    if (queued >= capacity) {
      this.#dropped++;
      if (overflow === 'drop-newest') {
        this.#link.overflowed(message);
        return;
      }
      const oldest = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined as never; // release it for GC
      this.#queue.push(message);
      this.#compact();
      this.#link.overflowed(oldest);
    } else {
      this.#queue.push(message);
    }
    // A full batch need not wait out the linger.
    if (this.#timerKind === 'linger' && this.#queue.length - this.#head >= maxBatch) this.#clearTimer();
    this.#wake();
  }

  /** Arranges for #pump to run soon, unless a wake-up is already pending or nothing can start. */
  #wake() {
    if (this.#microtaskPending || this.#timer !== undefined || this.#delivering || this.#paused || this.#closed) return;
    // A microtask rather than a direct call: publishes in the same tick join
    // one batch, and deliver never runs inside publish().
    this.#microtaskPending = true;
    queueMicrotask(() => {
      this.#microtaskPending = false;
      this.#pump(false);
    });
  }

  #setTimer(kind: 'linger' | 'retry', ms: number) {
    this.#timerKind = kind;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerKind = undefined;
      // Whatever the clock says now, the linger has been waited out.
      this.#pump(kind === 'linger');
    }, ms);
  }

  #clearTimer() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerKind = undefined;
  }

  #pump(lingerDone: boolean) {
    if (this.#paused || this.#closed || this.#delivering || this.#timer !== undefined) return;
    let batch = this.#batch;
    if (!batch) {
      const queued = this.#queue.length - this.#head;
      if (queued === 0) return this.#settleIdle();
      const { maxBatch, lingerMs } = this.#options;
      if (queued < maxBatch && lingerMs > 0 && !lingerDone) {
        const wait = this.#queue[this.#head].publishedAt + lingerMs - this.#link.now();
        if (wait > 0) return this.#setTimer('linger', wait);
      }
      const n = Math.min(queued, maxBatch);
      batch = this.#queue.slice(this.#head, this.#head + n);
      this.#head += n;
      this.#compact();
      this.#batch = batch;
    }
    this.#delivering = true;
    let delivery: Promise<void>;
    try {
      delivery = Promise.resolve(this.#deliver(batch));
    } catch (e) {
      delivery = Promise.reject(e);
    }
    delivery.then(
      () => this.#settled(batch, true),
      () => this.#settled(batch, false),
    );
  }

  #settled(batch: BusMessage[], ok: boolean) {
    // After removeSubscriber the batch was handed back to the caller.
    if (this.#closed || this.#batch !== batch) return;
    this.#delivering = false;
    if (ok) {
      this.#batch = undefined;
      this.#delivered += batch.length;
      this.#backoffMs = this.#options.retryInitialMs;
      this.#settleIdle();
      this.#pump(false);
      return;
    }
    this.#failedDeliveries++;
    const delay = Math.min(this.#backoffMs, this.#options.retryMaxMs);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.retryMaxMs);
    // The batch stays at the head; while paused, resume() retries it.
    if (!this.#paused) this.#setTimer('retry', delay);
  }

  #compact() {
    if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #close(): BusMessage[] {
    const rest = [...(this.#batch ?? []), ...this.#queue.slice(this.#head)];
    this.#closed = true;
    this.#clearTimer();
    this.#batch = undefined;
    this.#delivering = false;
    this.#queue = [];
    this.#head = 0;
    this.#settleIdle();
    return rest;
  }
}
