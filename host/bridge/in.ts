// The in path: QoS 1 subscriptions on the in rules' remote filters, in a persistent
// session, and a message handler that acknowledges a message to the broker only after it
// is on the local bus and the durable queues it reached are committed. MQTT.js reads the
// next packet only after that acknowledgement, so messages reach the bus in the order the
// broker sent them; one the host could not take is never acknowledged, and the broker sends
// it again on the next connection.
import type { IPublishPacket, MqttClient } from 'mqtt';
import { topicNameProblem } from '../../packages/mqtt-topic/topic.ts';
import type { Bus } from '../bus/bus.ts';
import { throttledLog } from '../log-throttle.ts';
import type { Logger } from '../logger.ts';
import type { ResolvedBridge } from './config.ts';
import { bridgeId, originOf } from './loops.ts';
import { type BridgeRule, remoteFilter, toLocal } from './topics.ts';

export interface InStats {
  /** Published on the local bus since the host started. */
  received: number;
  /** Dropped as this host's own messages coming back (MQTT 5 origin marker). */
  echoesDropped: number;
  /** Dropped because no in rule matched them or their local topic was invalid. */
  dropped: number;
}

export class InPath {
  readonly #name: string;
  readonly #rules: readonly BridgeRule[];
  readonly #bus: Bus;
  readonly #commit: () => void;
  readonly #logger: Logger;
  readonly #publisher: string;
  readonly #ownClientIds: ReadonlySet<string>;
  readonly #warnDropped: (fields: Record<string, unknown>, msg: string) => void;
  #closed = false;
  #received = 0;
  #echoes = 0;
  #dropped = 0;

  constructor(bus: Bus, spec: ResolvedBridge, deps: { commit: () => void; logger: Logger; ownClientIds: ReadonlySet<string> }) {
    this.#name = spec.name;
    this.#rules = spec.in;
    this.#bus = bus;
    this.#commit = deps.commit;
    this.#logger = deps.logger;
    this.#publisher = bridgeId(spec.name);
    this.#ownClientIds = deps.ownClientIds;
    let pending: { fields: Record<string, unknown>; msg: string } | undefined;
    const log = throttledLog(60_000, (suppressed) => deps.logger.warn({ ...pending!.fields, suppressed }, pending!.msg));
    this.#warnDropped = (fields, msg) => {
      pending = { fields, msg };
      log();
    };
  }

  /**
   * Subscribes the in rules on a new connection. Always, even when the session was resumed:
   * subscribing again picks up rules added since. MQTT 5 subscriptions carry No Local, so the
   * broker does not send this connection its own publishes. Over MQTT 3.1.1 the broker sends
   * its retained messages again at each reconnect (at least once allows it).
   */
  subscribe(client: MqttClient, version: 4 | 5): void {
    if (this.#rules.length === 0) return;
    const filters = this.#rules.map((r) => remoteFilter(r));
    // MQTT 5: No Local, and retained messages only for a subscription the session did not have
    // (rh 1), so a reconnect does not bring them in again.
    const map = Object.fromEntries(this.#rules.map((r) => [remoteFilter(r), { qos: r.qos, ...(version === 5 ? { nl: true, rh: 1 } : {}) }]));
    client.subscribe(map, (err, granted) => {
      if (err && !granted) {
        // The connection went before the SUBACK: the next connection subscribes again.
        if (client.connected)
          this.#logger.error({ bridge: this.#name, code: 'EH_BRIDGE_SUBSCRIBE_REFUSED', err }, `bridge ${this.#name}: subscribing failed: ${err.message}`);
        return;
      }
      for (const g of granted ?? []) {
        if (g.qos < 0x80) continue;
        this.#logger.error(
          { bridge: this.#name, code: 'EH_BRIDGE_SUBSCRIBE_REFUSED', filter: g.topic, reasonCode: g.qos },
          `bridge ${this.#name}: the broker refused the subscription to ${g.topic} (reason code ${g.qos}); nothing arrives through that in rule. Let the bridge's user subscribe to it in the broker's ACL`,
        );
      }
      this.#logger.info({ bridge: this.#name, filters }, `bridge ${this.#name} subscribed to ${filters.join(', ')}`);
    });
  }

  /**
   * The connection is closed: a packet MQTT.js had already read is neither put on the bus
   * nor acknowledged, and the broker sends it again next session. Until then the in path
   * keeps taking messages in, even while the host stops: MQTT.js reads packets one at a
   * time, so holding back one PUBLISH would also hold back the PUBACKs the out path waits for.
   */
  close(): void {
    this.#closed = true;
  }

  stats(): InStats {
    return { received: this.#received, echoesDropped: this.#echoes, dropped: this.#dropped };
  }

  /** One PUBLISH from the broker; `done` acknowledges it. */
  handle(client: MqttClient, packet: IPublishPacket, done: () => void): void {
    if (this.#closed) return;
    if (originOf(packet.properties).some((o) => this.#ownClientIds.has(o))) {
      this.#echoes++;
      done();
      return;
    }
    const to = toLocal(this.#rules, packet.topic);
    const problem = to ? topicNameProblem(to.topic) : 'no in rule matches it (a subscription the session kept from an earlier config?)';
    if (!to || problem) {
      this.#dropped++;
      this.#warnDropped(
        { bridge: this.#name, code: 'EH_BRIDGE_IN_DROPPED', topic: packet.topic, reason: problem },
        `bridge ${this.#name}: dropped a message from ${packet.topic}: ${problem}`,
      );
      done();
      return;
    }
    try {
      // A copy: the packet's buffer may be a slice of a much larger read.
      this.#bus.publish(to.topic, new Uint8Array(packet.payload as Buffer), this.#publisher);
      this.#commit();
    } catch (e) {
      // A durable queue refused it: not acknowledged, so the broker keeps it. Closing the
      // connection makes it send it again on the next one (MQTT.js would read no further).
      this.#logger.error(
        { bridge: this.#name, err: e, topic: to.topic },
        `bridge ${this.#name}: could not put a message for ${to.topic} on the bus (${(e as Error).message}); reconnecting so the broker sends it again`,
      );
      client.end(true);
      return;
    }
    this.#received++;
    done();
  }
}
