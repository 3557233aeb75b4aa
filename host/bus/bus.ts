import { topicNameProblem } from '../../packages/mqtt-topic/topic.ts';
import { TopicIndex } from '../../packages/mqtt-topic/topic-index.ts';
import type { DurableStore } from './durable-store.ts';
import {
  type BusMessage,
  type DeliverFn,
  type QueueRoom,
  Subscriber,
  type SubscriberControl,
  type SubscriberOptions,
  type SubscriberStats,
} from './subscriber.ts';

export { DurableStore } from './durable-store.ts';
export type { BusMessage, DeliverFn, OverflowPolicy, QueueRoom, SubscriberOptions, SubscriberStats } from './subscriber.ts';
export { Subscriber };

export interface BusOptions {
  /** Clock for publishedAt and linger, in ms since the epoch. */
  now?: () => number;
  /** Called once per message a full queue drops, synchronously at the end of the publish() that caused it. */
  onOverflow?: (subscriberId: string, dropped: BusMessage) => void;
  /**
   * Called once per message a subscriber gives up on (maxAttempts or ttlMs),
   * after it left the queue: `reason` is the message of the Error its last
   * delivery rejected with (fewer `attempts` than maxAttempts means the ttl
   * ran out). It runs from a delivery's promise callback, never inside
   * publish(), once the subscriber has moved on to the next message; so it may
   * publish, even to a topic the same subscriber matches (the message queues
   * behind the rest). For a durable subscriber, the row's delete and whatever
   * it publishes land in the same transaction. It must not throw: nothing
   * could catch it, so it would surface as an unhandled rejection.
   */
  onDeadLetter?: (subscriberId: string, message: BusMessage, reason: string, attempts: number) => void;
  /** Holds the queues of subscribers created with `durable: true`; required for them. */
  store?: DurableStore;
}

interface Entry {
  subscriber: Subscriber;
  control: SubscriberControl;
  noLocal: boolean;
  /** The publish sequence number that last queued to this subscriber, to queue each message once per subscriber. */
  mark: number;
}

/**
 * In-process pub-sub with MQTT topic semantics. publish() fans a message out
 * synchronously into the queue of every subscriber with a matching filter;
 * each subscriber then delivers its queue in order, one batch at a time.
 */
export class Bus {
  readonly #now: () => number;
  readonly #onOverflow: ((subscriberId: string, dropped: BusMessage) => void) | undefined;
  readonly #onDeadLetter: BusOptions['onDeadLetter'];
  readonly #store: DurableStore | undefined;
  readonly #entries = new Map<string, Entry>();
  readonly #index = new TopicIndex<Entry>();
  readonly #roomWatchers = new Set<(subscriberId: string, room: QueueRoom | undefined) => void>();
  #published = 0;
  /** Messages published, by the module that published them. */
  readonly #byPublisher = new Map<string, number>();
  /** Drops during the publish in progress, reported once its fan-out is done. */
  #drops: [string, BusMessage][] | undefined;

  constructor(opts: BusOptions = {}) {
    // Looked up on each call so a clock mocked after construction is seen.
    this.#now = opts.now ?? (() => Date.now());
    this.#onOverflow = opts.onOverflow;
    this.#onDeadLetter = opts.onDeadLetter;
    this.#store = opts.store;
  }

  /** Messages published so far. */
  /** Messages published by `publisher` so far. */
  publishedBy(publisher: string): number {
    return this.#byPublisher.get(publisher) ?? 0;
  }

  get published(): number {
    return this.#published;
  }

  /**
   * Throws Error(reason) for an invalid topic name; queues the message for
   * every matching subscriber. An error thrown by onOverflow, or by the store
   * of a durable subscriber (which then did not get the message), propagates
   * from here after the message reached every other subscriber. The copies
   * in durable queues are on disk after the next commit().
   */
  publish(topic: string, payload: Uint8Array, publisher?: string): BusMessage {
    const problem = topicNameProblem(topic);
    if (problem) throw new Error(problem);
    const message: BusMessage = { topic, payload, publishedAt: this.#now(), publisher };
    const seq = ++this.#published;
    if (publisher !== undefined) this.#byPublisher.set(publisher, (this.#byPublisher.get(publisher) ?? 0) + 1);
    const targets: Entry[] = [];
    this.#index.match(topic, (entry) => {
      if (entry.mark === seq) return;
      entry.mark = seq;
      if (entry.noLocal && publisher === entry.subscriber.id) return;
      targets.push(entry);
    });
    let refused: { error: unknown } | undefined;
    this.#reportingDrops(() => {
      for (const entry of targets) {
        try {
          entry.control.enqueue(message);
        } catch (error) {
          refused ??= { error };
        }
      }
    });
    if (refused) throw refused.error;
    return message;
  }

  /**
   * Commits the appends to durable queues made so far, and the deletes and
   * attempt counts that came with deliveries; when it returns they survive a
   * crash of the host process. Cheap when nothing is pending; the bus also
   * commits at the end of every tick in which something was written.
   */
  commit(): void {
    this.#store?.commit();
  }

  /**
   * Throws when `id` is already subscribed or the options are out of range.
   * A durable subscriber starts with the messages its id left in the store,
   * oldest first, ahead of anything published later; those beyond its
   * capacity are dropped (and reported) as usual.
   */
  addSubscriber(id: string, options: SubscriberOptions, deliver: DeliverFn): Subscriber {
    if (this.#entries.has(id)) throw new Error(`subscriber "${id}" already exists`);
    const problem = optionsProblem(options) ?? (options.durable && !this.#store ? 'durable needs a bus created with a store' : undefined);
    if (problem) throw new Error(`subscriber "${id}": ${problem}`);
    let entry: Entry | undefined;
    let control: SubscriberControl | undefined;
    let subscriber: Subscriber | undefined;
    this.#reportingDrops(() => {
      subscriber = new Subscriber(id, options, deliver, {
        addFilter: (filter) => this.#index.add(filter, entry!),
        removeFilter: (filter) => this.#index.remove(filter, entry!),
        now: this.#now,
        overflowed: (dropped) => this.#overflowed(id, dropped),
        deadLettered: (message, reason, attempts) => this.#onDeadLetter?.(id, message, reason, attempts),
        room: (room) => {
          for (const watch of this.#roomWatchers) watch(id, room);
        },
        journal: options.durable ? this.#store!.queue(id) : undefined,
        attach: (c) => {
          control = c;
        },
      });
      entry = { subscriber, control: control!, noLocal: options.noLocal, mark: 0 };
      this.#entries.set(id, entry);
    });
    return subscriber!;
  }

  /**
   * Removes the subscriber and returns what it had not delivered yet, oldest
   * first: the batch in flight (whose outcome is then ignored, so a
   * replacement may see it again) followed by the queue. A durable
   * subscriber's messages also stay in the store, for a replacement with the
   * same id. Unknown ids return [].
   */
  removeSubscriber(id: string): BusMessage[] {
    const entry = this.#entries.get(id);
    if (!entry) return [];
    this.#entries.delete(id);
    for (const filter of entry.subscriber.stats().filters) this.#index.remove(filter, entry);
    if (entry.subscriber.room) for (const watch of this.#roomWatchers) watch(id, undefined);
    return entry.control.close();
  }

  /** New delivery options for a subscriber (see Subscriber.reconfigure); throws for an unknown id or bad options. */
  reconfigure(id: string, options: SubscriberOptions): void {
    const entry = this.#entries.get(id);
    if (!entry) throw new Error(`subscriber "${id}" does not exist`);
    const problem = optionsProblem(options);
    if (problem) throw new Error(`subscriber "${id}": ${problem}`);
    entry.subscriber.reconfigure(options);
    entry.noLocal = options.noLocal;
  }

  /**
   * Calls `watch` when a subscriber's `block` queue reports the room it has
   * left (see Subscriber.room), and with undefined when the subscriber is
   * removed; returns the function that stops watching. Those who publish to
   * its filters count down from it and hold back at zero.
   */
  watchRoom(watch: (subscriberId: string, room: QueueRoom | undefined) => void): () => void {
    this.#roomWatchers.add(watch);
    return () => this.#roomWatchers.delete(watch);
  }

  /** Every `block` queue with its filters and the room it has left now. */
  rooms(): { id: string; filters: string[]; room: QueueRoom }[] {
    const out: { id: string; filters: string[]; room: QueueRoom }[] = [];
    for (const { subscriber } of this.#entries.values()) {
      const room = subscriber.room;
      if (room) out.push({ id: subscriber.id, filters: subscriber.stats().filters, room });
    }
    return out;
  }

  subscriber(id: string): Subscriber | undefined {
    return this.#entries.get(id)?.subscriber;
  }

  stats(): Record<string, SubscriberStats> {
    // fromEntries defines own properties, so an id like "__proto__" cannot reach the prototype.
    return Object.fromEntries([...this.#entries].map(([id, e]) => [id, e.subscriber.stats()]));
  }

  #overflowed(id: string, dropped: BusMessage) {
    this.#drops ??= [];
    this.#drops.push([id, dropped]);
  }

  /**
   * Runs `fill`, then reports the drops it caused to onOverflow: only once a
   * fan-out is done, so that code can neither cut it short by throwing nor see
   * the index mid-walk.
   */
  #reportingDrops(fill: () => void) {
    const outer = this.#drops;
    this.#drops = undefined;
    let drops: [string, BusMessage][] | undefined;
    try {
      fill();
    } finally {
      drops = this.#drops as [string, BusMessage][] | undefined;
      this.#drops = outer;
    }
    if (drops && this.#onOverflow) for (const [id, dropped] of drops) this.#onOverflow(id, dropped);
  }
}

function optionsProblem(o: SubscriberOptions): string | undefined {
  if (!Number.isInteger(o.maxBatch) || o.maxBatch < 1) return `maxBatch must be an integer >= 1, not ${o.maxBatch}`;
  if (!Number.isInteger(o.capacity) || o.capacity < 1) return `capacity must be an integer >= 1, not ${o.capacity}`;
  if (!(o.capacityBytes >= 1)) return `capacityBytes must be >= 1, not ${o.capacityBytes}`;
  if (!(o.lingerMs >= 0)) return `lingerMs must be >= 0, not ${o.lingerMs}`;
  if (!(o.retryInitialMs > 0)) return `retryInitialMs must be > 0, not ${o.retryInitialMs}`;
  if (!(o.retryMaxMs > 0)) return `retryMaxMs must be > 0, not ${o.retryMaxMs}`;
  if (o.overflow !== 'drop-oldest' && o.overflow !== 'drop-newest' && o.overflow !== 'block') {
    return `overflow must be "drop-oldest", "drop-newest" or "block", not ${String(o.overflow)}`;
  }
  if (!Number.isInteger(o.maxAttempts) || o.maxAttempts < 0) return `maxAttempts must be an integer >= 0, not ${o.maxAttempts}`;
  if (!(o.ttlMs >= 0)) return `ttlMs must be >= 0, not ${o.ttlMs}`;
  return undefined;
}
