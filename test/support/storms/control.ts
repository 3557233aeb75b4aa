// The control client of the storms: one well-behaved MQTT.js client doing QoS 1 round
// trips one after another (publish, PUBACK, its own message back through its
// subscription), whose losses and latencies say what a storm did to everyone else.
import type net from 'node:net';
import type { MqttClient } from 'mqtt';
import { type Clients, type Inbox, WAIT_MS, withTimeout } from '../../modules/server/clients.ts';

/** A round trip not completed within this is counted lost (and the next one starts). */
const ROUND_TRIP_TIMEOUT_MS = 5000;

export interface RoundTripStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export class Control {
  readonly rtts: number[] = [];
  lost = 0;
  #running = true;
  readonly #done: Promise<void>;
  readonly #c: MqttClient;
  readonly #inbox: Inbox;
  /** Called after each round trip, completed or lost. */
  #watchers = new Set<() => void>();

  private constructor(c: MqttClient, inbox: Inbox) {
    this.#c = c;
    this.#inbox = inbox;
    this.#done = this.#loop();
  }

  /** Connects as `control` through `clients` (MQTT 3.1.1) and starts the round trips. */
  static async start(clients: Clients): Promise<Control> {
    const { c, inbox } = await clients.connect('control', { protocolVersion: 4 });
    // Without this, Nagle on the client's socket holds each PUBLISH behind the ACK of its
    // previous PUBACK: a 40 ms delayed-ACK floor that has nothing to do with the server.
    (c as unknown as { stream: net.Socket }).stream.setNoDelay(true);
    await withTimeout(c.subscribeAsync('control/rt', { qos: 1 }), WAIT_MS, 'SUBACK');
    return new Control(c, inbox);
  }

  async #loop(): Promise<void> {
    let seq = 0;
    while (this.#running) {
      const payload = String(++seq);
      const started = performance.now();
      try {
        await withTimeout(this.#c.publishAsync('control/rt', payload, { qos: 1 }), ROUND_TRIP_TIMEOUT_MS, 'PUBACK');
        await this.#inbox.wait((m) => m.payload === payload, `round trip ${payload}`, ROUND_TRIP_TIMEOUT_MS);
        this.rtts.push(performance.now() - started);
      } catch {
        this.lost++;
      }
      this.#inbox.messages.length = 0;
      for (const w of this.#watchers) w();
    }
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

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}
