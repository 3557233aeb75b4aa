import { Subscriber, type BusMessage, type DeliverFn, type SubscriberControl, type SubscriberOptions, type SubscriberStats } from './subscriber.ts';
import { TopicIndex } from './topic-index.ts';
import { topicNameProblem } from './topic.ts';

export { Subscriber };
export type { BusMessage, DeliverFn, OverflowPolicy, SubscriberOptions, SubscriberStats } from './subscriber.ts';

export interface BusOptions {
  /** Clock for publishedAt and linger, in ms since the epoch. */
  now?: () => number;
  /** Called once per message a full queue drops, synchronously at the end of the publish() that caused it. */
  onOverflow?: (subscriberId: string, dropped: BusMessage) => void;
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
  readonly #entries = new Map<string, Entry>();
  readonly #index = new TopicIndex<Entry>();
  #published = 0;
  /** Drops during the publish in progress, reported once its fan-out is done. */
  #drops: [string, BusMessage][] | undefined;

  constructor(opts: BusOptions = {}) {
    // Looked up on each call so a clock mocked after construction is seen.
    this.#now = opts.now ?? (() => Date.now());
    this.#onOverflow = opts.onOverflow;
  }

  /** Messages published so far. */
  get published(): number {
    return this.#published;
  }

  /**
   * Throws Error(reason) for an invalid topic name; queues the message for
   * every matching subscriber. An error thrown by onOverflow propagates from
   * here, after the message reached every subscriber.
   */
  publish(topic: string, payload: Uint8Array, publisher?: string): BusMessage {
    const problem = topicNameProblem(topic);
    if (problem) throw new Error(problem);
    const message: BusMessage = { topic, payload, publishedAt: this.#now(), publisher };
    const seq = ++this.#published;
    const targets: Entry[] = [];
    this.#index.match(topic, (entry) => {
      if (entry.mark === seq) return;
      entry.mark = seq;
      if (entry.noLocal && publisher === entry.subscriber.id) return;
      targets.push(entry);
    });
    // onOverflow runs only once the fan-out is done, so its code can neither
    // cut the fan-out short by throwing nor see the index mid-walk.
    const outer = this.#drops;
    this.#drops = undefined;
    for (const entry of targets) entry.control.enqueue(message);
    const drops = this.#drops as [string, BusMessage][] | undefined;
    this.#drops = outer;
    if (drops && this.#onOverflow) for (const [id, dropped] of drops) this.#onOverflow(id, dropped);
    return message;
  }

  /** Throws when `id` is already subscribed or the options are out of range. */
  addSubscriber(id: string, options: SubscriberOptions, deliver: DeliverFn): Subscriber {
    if (this.#entries.has(id)) throw new Error(`subscriber "${id}" already exists`);
    const problem = optionsProblem(options);
    if (problem) throw new Error(`subscriber "${id}": ${problem}`);
    let entry: Entry | undefined;
    let control: SubscriberControl | undefined;
    const subscriber = new Subscriber(id, options, deliver, {
      addFilter: (filter) => this.#index.add(filter, entry!),
      removeFilter: (filter) => this.#index.remove(filter, entry!),
      now: this.#now,
      overflowed: (dropped) => this.#overflowed(id, dropped),
      attach: (c) => {
        control = c;
      },
    });
    entry = { subscriber, control: control!, noLocal: options.noLocal, mark: 0 };
    this.#entries.set(id, entry);
    return subscriber;
  }

  /**
   * Removes the subscriber and returns what it had not delivered yet, oldest
   * first: the batch in flight (whose outcome is then ignored, so a
   * replacement may see it again) followed by the queue. Unknown ids return [].
   */
  removeSubscriber(id: string): BusMessage[] {
    const entry = this.#entries.get(id);
    if (!entry) return [];
    this.#entries.delete(id);
    for (const filter of entry.subscriber.stats().filters) this.#index.remove(filter, entry);
    return entry.control.close();
  }

  subscriber(id: string): Subscriber | undefined {
    return this.#entries.get(id)?.subscriber;
  }

  stats(): Record<string, SubscriberStats> {
    // fromEntries defines own properties, so an id like "__proto__" cannot reach the prototype.
    return Object.fromEntries([...this.#entries].map(([id, e]) => [id, e.subscriber.stats()]));
  }

  #overflowed(id: string, dropped: BusMessage) {
    (this.#drops ??= []).push([id, dropped]);
  }
}

function optionsProblem(o: SubscriberOptions): string | undefined {
  if (!Number.isInteger(o.maxBatch) || o.maxBatch < 1) return `maxBatch must be an integer >= 1, not ${o.maxBatch}`;
  if (!Number.isInteger(o.capacity) || o.capacity < 1) return `capacity must be an integer >= 1, not ${o.capacity}`;
  if (!(o.lingerMs >= 0)) return `lingerMs must be >= 0, not ${o.lingerMs}`;
  if (!(o.retryInitialMs > 0)) return `retryInitialMs must be > 0, not ${o.retryInitialMs}`;
  if (!(o.retryMaxMs > 0)) return `retryMaxMs must be > 0, not ${o.retryMaxMs}`;
  if (o.overflow !== 'drop-oldest' && o.overflow !== 'drop-newest') return `overflow must be "drop-oldest" or "drop-newest", not ${String(o.overflow)}`;
  return undefined;
}
