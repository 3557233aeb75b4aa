import { topicFilterProblem } from '../../packages/mqtt-topic/topic.ts';

export interface BusMessage {
  topic: string;
  /** Shared by every subscriber the message goes to: never mutate it. */
  payload: Uint8Array;
  /** ms since the epoch, from the bus clock. */
  publishedAt: number;
  /** Module name of the publisher, `bridge:<name>` for what a bridge brought in; undefined for other host code. */
  publisher?: string;
}

/**
 * What a full queue does with the next message: drop the oldest queued one,
 * drop the new one, or (`block`) keep it, and tell publishers how much room is
 * left so that they are held back before it fills (see Bus.watchRoom) and
 * nothing is lost.
 */
export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'block';

/** What a `block` queue can still take before it is at its capacity. */
export interface QueueRoom {
  bytes: number;
  messages: number;
}

export interface SubscriberOptions {
  /** Most messages per delivery call. */
  maxBatch: number;
  /** Wait up to this long for a batch to fill; 0 delivers as soon as possible. */
  lingerMs: number;
  /** Most queued messages, not counting the batch in flight. */
  capacity: number;
  /**
   * Most bytes of queued payloads, not counting the batch in flight: with
   * `capacity`, what bounds the memory a queue holds whatever the message
   * sizes. A message larger than this on its own is dropped.
   */
  capacityBytes: number;
  overflow: OverflowPolicy;
  /** Don't deliver messages whose publisher is this subscriber's id. */
  noLocal: boolean;
  /** Backoff after a failed delivery: starts here, doubles, capped at retryMaxMs. */
  retryInitialMs: number;
  retryMaxMs: number;
  /**
   * Failed deliveries of a message, delivered on its own, after which it is
   * dead-lettered; 0 = never give up. A failed batch of several messages counts
   * no attempt: its messages are retried one at a time, so only the message
   * that fails is counted.
   */
  maxAttempts: number;
  /** A message older than this (by its publishedAt) when its delivery fails is dead-lettered; 0 = no limit. */
  ttlMs: number;
  /** Keep the queue in the bus's DurableStore, so it survives a crash of the host. */
  durable: boolean;
}

export interface SubscriberStats {
  /** Messages waiting for a delivery, not counting the batch in flight. */
  queued: number;
  /** Payload bytes of those messages. */
  queuedBytes: number;
  /** Messages in the batch being delivered, or waiting for its retry after a failure. */
  inFlight: number;
  delivered: number;
  failedDeliveries: number;
  dropped: number;
  filters: string[];
  paused: boolean;
  /** Whether the batch in flight failed and waits for its retry. */
  retrying: boolean;
  /** Messages given up on (maxAttempts or ttlMs) and reported to the bus's onDeadLetter. */
  deadLettered: number;
  /** Failed attempts counted so far for the oldest message not yet delivered. */
  attempts: number;
}

/**
 * Resolves when the batch was handled; rejects with an Error whose message
 * says why when it was not (it is then retried, and that message is the
 * reason reported if the subscriber gives up on it).
 */
export type DeliverFn = (batch: BusMessage[]) => Promise<void>;

/**
 * Where a durable subscriber writes its queue down (see durable-store.ts).
 * Calls are synchronous; the store decides when they reach the disk.
 */
export interface QueueJournal {
  /** Messages left from an earlier run, oldest first, with the attempts counted for them. */
  recover(): Iterable<{ message: BusMessage; attempts: number }>;
  /** Throws when the message cannot be stored; it is then not queued. */
  append(message: BusMessage): void;
  recordAttempt(message: BusMessage, attempts: number): void;
  /** The message was delivered, dropped or dead-lettered. */
  remove(message: BusMessage): void;
}

/** What a subscriber needs from its bus. Internal: only Bus creates subscribers. */
export interface SubscriberLink {
  addFilter(filter: string): void;
  removeFilter(filter: string): void;
  now(): number;
  overflowed(dropped: BusMessage): void;
  /** Called once the subscriber gave up on `message` and moved on; see BusOptions.onDeadLetter. */
  deadLettered(message: BusMessage, reason: string, attempts: number): void;
  /**
   * A `block` queue's room changed by an eighth of its capacity since it last
   * said, ran out, or its filters changed: publishers count down from it.
   */
  room(room: QueueRoom): void;
  /** Set for a durable subscriber. */
  journal: QueueJournal | undefined;
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
  #options: SubscriberOptions;
  readonly #deliver: DeliverFn;
  readonly #link: SubscriberLink;
  readonly #journal: QueueJournal | undefined;
  readonly #filters = new Set<string>();

  // Queue as an array plus a head index: dropping the oldest and taking a
  // batch off the front stay O(1) amortised instead of shifting the array.
  #queue: BusMessage[] = [];
  #head = 0;
  /** Payload bytes of the messages in #queue from #head. */
  #queuedBytes = 0;

  /**
   * Messages taken off the queue and not yet delivered or dead-lettered: the
   * batch being delivered, or that failed and waits for its retry.
   */
  #batch: BusMessage[] | undefined;
  /** Set when #batch failed as a whole: its messages then go one at a time until it is done. */
  #oneByOne = false;
  /** What the delivery in progress was given; its outcome is ignored unless it is still this. */
  #sending: BusMessage[] | undefined;
  #paused = false;
  #closed = false;
  /** Failed attempts of messages that have any; only these messages are in the map. */
  readonly #attempts = new Map<BusMessage, number>();

  /** At most one of these is pending at a time: the single wake-up of this subscriber. */
  #microtaskPending = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerKind: 'linger' | 'retry' | undefined;
  #backoffMs: number;

  #delivered = 0;
  #failedDeliveries = 0;
  #dropped = 0;
  #deadLettered = 0;
  #reportedRoom: QueueRoom | undefined;
  /** What a `block` queue took in since its last room report. */
  #takenSinceReport: QueueRoom = { bytes: 0, messages: 0 };

  #idleWaiters: (() => void)[] = [];

  constructor(id: string, options: SubscriberOptions, deliver: DeliverFn, link: SubscriberLink) {
    this.id = id;
    this.#options = { ...options };
    this.#deliver = deliver;
    this.#link = link;
    this.#journal = link.journal;
    this.#backoffMs = options.retryInitialMs;
    link.attach({ enqueue: (m) => this.#enqueue(m), close: () => this.#close() });
    // Before anything newly published, so the queue keeps its order across a
    // crash; through the capacity check, so a long backlog cannot exhaust memory.
    for (const { message, attempts } of this.#journal?.recover() ?? []) {
      if (attempts > 0) this.#attempts.set(message, attempts);
      this.#accept(message, false);
    }
  }

  get options(): Readonly<SubscriberOptions> {
    return this.#options;
  }

  /**
   * Takes new delivery options (a replaced module's) for what comes next: a
   * batch in flight keeps its size; a queue over a smaller capacity drops per
   * the overflow policy as new messages arrive. Whether the queue is durable
   * cannot change here: that takes a subscriber of its own.
   */
  reconfigure(options: SubscriberOptions): void {
    if (options.durable !== this.#options.durable) throw new Error(`subscriber "${this.id}": durable cannot change on a live subscriber`);
    this.#options = { ...options };
    this.#backoffMs = Math.min(this.#backoffMs, options.retryMaxMs);
    this.#reportRoom(true);
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
    this.#reportRoom(true);
  }

  /** An unknown filter is ignored. Messages already queued stay queued. */
  unsubscribe(filter: string): void {
    if (!this.#filters.delete(filter)) return;
    if (!this.#closed) this.#link.removeFilter(filter);
    this.#reportRoom(true);
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
    const oldest = this.#batch?.[0] ?? this.#queue[this.#head];
    return {
      queued: this.#queue.length - this.#head,
      queuedBytes: this.#queuedBytes,
      inFlight: this.#batch?.length ?? 0,
      delivered: this.#delivered,
      failedDeliveries: this.#failedDeliveries,
      dropped: this.#dropped,
      filters: [...this.#filters],
      paused: this.#paused,
      retrying: this.#batch !== undefined && this.#sending === undefined,
      deadLettered: this.#deadLettered,
      attempts: oldest ? (this.#attempts.get(oldest) ?? 0) : 0,
    };
  }

  /** When the oldest message not yet delivered was published (ms since the epoch), if there is one. */
  oldestPublishedAt(): number | undefined {
    return (this.#batch?.[0] ?? this.#queue[this.#head])?.publishedAt;
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
    this.#accept(message, true);
  }

  /** Queues `message` within the capacity; `store` is false for messages the journal already holds. */
  #accept(message: BusMessage, store: boolean) {
    const { capacity, capacityBytes, overflow, maxBatch } = this.#options;
    const size = message.payload.length;
    const queued = this.#queue.length - this.#head;
    const full = queued >= capacity || this.#queuedBytes + size > capacityBytes;
    if (overflow === 'block') {
      // Nothing is dropped: publishers were told the room left and hold back
      // when it runs out; what they had sent meanwhile is kept past the capacity.
      if (store) this.#journal?.append(message);
      this.#queue.push(message);
      this.#queuedBytes += size;
      this.#takenSinceReport.bytes += size;
      this.#takenSinceReport.messages++;
      this.#reportRoom();
      if (this.#timerKind === 'linger' && this.#queue.length - this.#head >= maxBatch) this.#clearTimer();
      this.#wake();
      return;
    }
    if ((full && overflow === 'drop-newest') || size > capacityBytes) {
      this.#dropped++;
      this.#forget(message);
      this.#link.overflowed(message);
      return;
    }
    // Stored before the queue changes, so a message the store refuses leaves no trace.
    if (store) this.#journal?.append(message);
    this.#queue.push(message);
    this.#queuedBytes += size;
    // Oldest first, until both the count and the bytes fit again.
    while (this.#queue.length - this.#head > capacity || this.#queuedBytes > capacityBytes) {
      this.#dropped++;
      const oldest = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined as never; // release it for GC
      this.#queuedBytes -= oldest.payload.length;
      this.#forget(oldest);
      this.#link.overflowed(oldest);
    }
    this.#compact();
    // A full batch need not wait out the linger.
    if (this.#timerKind === 'linger' && this.#queue.length - this.#head >= maxBatch) this.#clearTimer();
    this.#wake();
  }

  /** What a `block` queue can still take; undefined for a queue that drops instead. */
  get room(): QueueRoom | undefined {
    if (this.#options.overflow !== 'block') return undefined;
    const { capacity, capacityBytes } = this.#options;
    return { bytes: Math.max(0, capacityBytes - this.#queuedBytes), messages: Math.max(0, capacity - (this.#queue.length - this.#head)) };
  }

  /**
   * Publishers' workers refuse with `full` once what they sent uses up the
   * room last reported, so a report per message is not needed: one per eighth
   * of the capacity bounds what several publishers can overshoot by, and the
   * moment it runs out or comes back is always reported. Publishers also get a
   * fresh report once what arrived since the last one could have used up their
   * count (or an eighth of the capacity): a consumer that keeps up holds the
   * room where it was, and without it they would count down to nothing and
   * refuse forever.
   */
  #reportRoom(force = false) {
    const room = this.room;
    if (!room || this.#closed) return;
    const last = this.#reportedRoom;
    if (!force && last) {
      const { capacity, capacityBytes } = this.#options;
      const empty = (r: QueueRoom) => r.bytes === 0 || r.messages === 0;
      const moved = Math.abs(room.bytes - last.bytes) >= capacityBytes / 8 || Math.abs(room.messages - last.messages) >= capacity / 8;
      const taken = this.#takenSinceReport;
      const spent = !empty(last) && (taken.messages >= Math.min(last.messages, capacity / 8) || taken.bytes >= Math.min(last.bytes, capacityBytes / 8));
      if (!moved && !spent && empty(room) === empty(last)) return;
    }
    this.#reportedRoom = room;
    this.#takenSinceReport = { bytes: 0, messages: 0 };
    this.#link.room(room);
  }

  /** `message` left this subscriber for good: delivered, dropped or dead-lettered. */
  #forget(message: BusMessage) {
    this.#attempts.delete(message);
    this.#journal?.remove(message);
  }

  /** Arranges for #pump to run soon, unless a wake-up is already pending or nothing can start. */
  #wake() {
    if (this.#microtaskPending || this.#timer !== undefined || this.#sending || this.#paused || this.#closed) return;
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
    if (this.#paused || this.#closed || this.#sending || this.#timer !== undefined) return;
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
      let bytes = 0;
      for (const m of batch) bytes += m.payload.length;
      this.#queuedBytes -= bytes;
      this.#reportRoom();
      this.#compact();
      this.#batch = batch;
    }
    const sending = this.#oneByOne ? batch.slice(0, 1) : batch;
    this.#sending = sending;
    let delivery: Promise<void>;
    try {
      delivery = Promise.resolve(this.#deliver(sending));
    } catch (e) {
      delivery = Promise.reject(e);
    }
    delivery.then(
      () => this.#succeeded(sending),
      (e: unknown) => this.#failed(sending, e instanceof Error ? e.message : String(e)),
    );
  }

  #succeeded(sent: BusMessage[]) {
    // After removeSubscriber the batch was handed back to the caller.
    if (this.#sending !== sent) return;
    this.#sending = undefined;
    for (const m of sent) this.#forget(m);
    this.#delivered += sent.length;
    this.#backoffMs = this.#options.retryInitialMs;
    this.#takeFromBatch(sent.length);
    this.#settleIdle();
    this.#pump(false);
  }

  #failed(sent: BusMessage[], reason: string) {
    if (this.#sending !== sent) return;
    this.#sending = undefined;
    this.#failedDeliveries++;
    const delay = Math.min(this.#backoffMs, this.#options.retryMaxMs);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.retryMaxMs);
    if (sent.length > 1) {
      // Which message the handler choked on is unknown, so none is counted:
      // delivered alone, a poisoned message cannot take its neighbours with it.
      this.#oneByOne = true;
    } else {
      const message = sent[0];
      const attempts = (this.#attempts.get(message) ?? 0) + 1;
      const { maxAttempts, ttlMs } = this.#options;
      const expired = ttlMs > 0 && this.#link.now() - message.publishedAt > ttlMs;
      if ((maxAttempts > 0 && attempts >= maxAttempts) || expired) return this.#deadLetter(message, reason, attempts);
      this.#attempts.set(message, attempts);
      this.#journal?.recordAttempt(message, attempts);
    }
    // The batch stays at the head; while paused, resume() retries it.
    if (!this.#paused) this.#setTimer('retry', delay);
  }

  #deadLetter(message: BusMessage, reason: string, attempts: number) {
    this.#deadLettered++;
    this.#forget(message);
    this.#takeFromBatch(1);
    // The next message goes at once, as it is likely sound. The backoff grew
    // all the same, so if the handler keeps failing, the retries of the
    // messages after it still slow down until something is delivered.
    this.#settleIdle();
    this.#pump(false);
    // Last, with the subscriber consistent again: the callback may publish,
    // even to a topic this subscriber matches (it queues behind the rest).
    this.#link.deadLettered(message, reason, attempts);
  }

  /** Removes the first `n` messages of the batch; normal batching resumes once it is empty. */
  #takeFromBatch(n: number) {
    // A copy rather than splice: the handler may still hold the array it was given.
    if (n < this.#batch!.length) {
      this.#batch = this.#batch!.slice(n);
      return;
    }
    this.#batch = undefined;
    this.#oneByOne = false;
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
    this.#oneByOne = false;
    this.#sending = undefined;
    this.#attempts.clear();
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#settleIdle();
    return rest;
  }
}
