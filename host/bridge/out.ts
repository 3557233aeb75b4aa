// The out path: a durable bus subscriber `bridge:<name>` on the out rules' local filters.
// Its queue is in the same store as the modules' durable queues, so what reached it
// survives a crash of the host. A batch leaves the queue only when the broker acknowledged
// every message of it (PUBACK for QoS 1; written to the socket for QoS 0). While the broker
// is away the subscriber is paused and the batch in flight waits; on the next connection
// its unacknowledged messages are sent again first, in order, then the queue goes on.
// A publish the broker refuses (MQTT 5 PUBACK reason code >= 0x80) fails the batch: the bus
// retries it with backoff, one message at a time, in order.
import type { ErrorWithReasonCode, MqttClient } from 'mqtt';
import type { Bus, BusMessage, Subscriber } from '../bus/bus.ts';
import { throttledLog } from '../log-throttle.ts';
import type { Logger } from '../logger.ts';
import type { ResolvedBridge } from './config.ts';
import { bridgeId, cameOverABridge, ORIGIN_PROPERTY } from './loops.ts';
import { type BridgeRule, localFilter, toRemote } from './topics.ts';

interface Item {
  message: BusMessage;
  topic: string;
  qos: 0 | 1;
  sent: boolean;
  acked: boolean;
}

interface Delivery {
  items: Item[];
  /** Items not acknowledged yet. */
  left: number;
  /** Items sent on the current connection and not acknowledged yet. */
  outstanding: number;
  /** Items before this index were sent on the current connection (or acknowledged). */
  next: number;
  resolve(): void;
  reject(error: Error): void;
}

export interface OutStats {
  /** Waiting in the durable queue, not counting those in flight. */
  queued: number;
  /** The batch being sent: sent and not acknowledged yet, or waiting for the broker. */
  inFlight: number;
  /** Acknowledged by the broker since the host started. */
  sent: number;
  /** Dropped because the queue was full (delivery.capacity). */
  dropped: number;
}

export class OutPath {
  readonly #name: string;
  readonly #rules: readonly BridgeRule[];
  readonly #subscriber: Subscriber | undefined;
  readonly #bus: Bus;
  readonly #origin: string;
  readonly #maxInFlight: number;
  readonly #warnRefused: (fields: Record<string, unknown>, msg: string) => void;
  #client: MqttClient | undefined;
  #version: 4 | 5 = 5;
  /** Bumped on every attach and detach: callbacks of an earlier connection are ignored. */
  #generation = 0;
  #window = 1;
  #delivery: Delivery | undefined;
  #sent = 0;

  constructor(bus: Bus, spec: ResolvedBridge, logger: Logger) {
    this.#name = spec.name;
    this.#rules = spec.out;
    this.#bus = bus;
    this.#origin = spec.clientId;
    this.#maxInFlight = spec.delivery.maxInFlight;
    let pending: { fields: Record<string, unknown>; msg: string } | undefined;
    const log = throttledLog(60_000, (suppressed) => logger.warn({ ...pending!.fields, suppressed }, pending!.msg));
    this.#warnRefused = (fields, msg) => {
      pending = { fields, msg };
      log();
    };
    if (spec.out.length === 0) return;
    this.#subscriber = bus.addSubscriber(
      bridgeId(spec.name),
      {
        maxBatch: spec.delivery.maxBatch,
        lingerMs: 0,
        capacity: spec.delivery.capacity,
        capacityBytes: spec.delivery.capacityBytes,
        overflow: spec.delivery.overflow,
        // What this bridge brought in never goes back out over it (see loops.ts).
        noLocal: true,
        // Only refusals by a connected broker fail a delivery: those take a fix on the broker.
        retryInitialMs: 1000,
        retryMaxMs: 30_000,
        maxAttempts: 0,
        ttlMs: 0,
        durable: true,
      },
      (batch) => this.#deliver(batch),
    );
    for (const rule of spec.out) this.#subscriber.subscribe(localFilter(rule));
    // Nothing leaves until the broker is there.
    this.#subscriber.pause();
  }

  /** A connection is up: resend what the broker did not acknowledge, then go on with the queue. */
  attach(client: MqttClient, version: 4 | 5): void {
    this.#client = client;
    this.#version = version;
    this.#generation++;
    // MQTT 5: no more unacknowledged QoS 1 publishes than the broker's Receive Maximum [MQTT-3.3.4-7].
    const receiveMaximum = version === 5 ? (client.serverProperties?.receiveMaximum ?? 65_535) : Number.POSITIVE_INFINITY;
    this.#window = Math.max(1, Math.min(this.#maxInFlight, receiveMaximum));
    if (this.#delivery) this.#send(this.#delivery);
    this.#subscriber?.resume();
  }

  /** The connection is gone: what was sent and not acknowledged is sent again on the next one. */
  detach(): void {
    this.#client = undefined;
    this.#generation++;
    this.#subscriber?.pause();
    const d = this.#delivery;
    if (!d) return;
    d.outstanding = 0;
    d.next = 0;
    for (const item of d.items) if (!item.acked) item.sent = false;
  }

  stats(): OutStats {
    const s = this.#subscriber?.stats();
    return { queued: s?.queued ?? 0, inFlight: s?.inFlight ?? 0, sent: this.#sent, dropped: s?.dropped ?? 0 };
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  idle(): Promise<void> {
    return this.#subscriber?.idle() ?? Promise.resolve();
  }

  /** Detaches from the bus; the durable queue, with whatever was not acknowledged, stays for the next start. */
  close(): void {
    this.detach();
    this.#delivery = undefined;
    if (this.#subscriber) this.#bus.removeSubscriber(this.#subscriber.id);
  }

  #deliver(batch: BusMessage[]): Promise<void> {
    const items: Item[] = [];
    for (const message of batch) {
      // Brought in by another bridge: relaying between brokers is theirs to do, and it could loop.
      if (cameOverABridge(message)) continue;
      const to = toRemote(this.#rules, message.topic);
      if (to) items.push({ message, topic: to.topic, qos: to.qos, sent: false, acked: false });
    }
    if (items.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const d: Delivery = { items, left: items.length, outstanding: 0, next: 0, resolve, reject };
      this.#delivery = d;
      if (this.#client) this.#send(d);
    });
  }

  /** Sends the next unsent items of `d`, in order, up to the window. */
  #send(d: Delivery): void {
    const client = this.#client;
    if (!client) return;
    const generation = this.#generation;
    const properties = this.#version === 5 ? { userProperties: { [ORIGIN_PROPERTY]: this.#origin } } : undefined;
    while (d.next < d.items.length && d.outstanding < this.#window) {
      const item = d.items[d.next++];
      if (item.sent || item.acked) continue;
      item.sent = true;
      d.outstanding++;
      const { payload } = item.message;
      const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      client.publish(item.topic, body, { qos: item.qos, properties }, (err) => {
        if (this.#delivery !== d || this.#generation !== generation) return;
        if (err) {
          const rc = (err as ErrorWithReasonCode).code;
          // Anything else means the connection went: detach() takes care of it.
          if (typeof rc === 'number' && rc >= 0x80) this.#refused(d, item, err.message, rc);
          return;
        }
        item.acked = true;
        d.outstanding--;
        this.#sent++;
        if (--d.left === 0) {
          this.#delivery = undefined;
          d.resolve();
        } else {
          this.#send(d);
        }
      });
    }
  }

  #refused(d: Delivery, item: Item, reason: string, rc: number): void {
    this.#delivery = undefined;
    const hint =
      rc === 135
        ? "let the bridge's user publish to it in the broker's ACL"
        : rc === 149
          ? "raise the broker's maximum packet size (Mosquitto: message_size_limit)"
          : 'fix it on the broker';
    this.#warnRefused(
      { bridge: this.#name, code: 'EH_BRIDGE_PUBLISH_REFUSED', topic: item.topic, reasonCode: rc },
      `bridge ${this.#name}: the broker refused a publish to ${item.topic} (${reason}); ${hint}. It stays at the head of the out queue and is retried with backoff`,
    );
    d.reject(new Error(`the broker refused the publish to ${item.topic}: ${reason}`));
  }
}
