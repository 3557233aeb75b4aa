// Retained messages: the last retained PUBLISH of each topic, sent to new subscribers.

import type { QoS } from './codec/packets.ts';
import type { Message } from './message.ts';
import { filterMatches } from './subscriptions.ts';

export interface RetainedMessage {
  message: Message;
  qos: QoS;
}

export type RetainOutcome = 'stored' | 'cleared' | 'full';

export class RetainedStore {
  private readonly byTopic = new Map<string, RetainedMessage>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.byTopic.size;
  }

  /**
   * Keeps `message` as the retained message of its topic, replacing the previous one
   * [MQTT-3.3.1-5]; an empty payload removes it and is not stored [MQTT-3.3.1-10] [MQTT-3.3.1-11].
   * QoS 0 messages are stored too [MQTT-3.3.1-7]. A new topic beyond the limit is not stored.
   */
  set(message: Message, qos: QoS): RetainOutcome {
    if (message.payload.length === 0) {
      this.byTopic.delete(message.topic);
      return 'cleared';
    }
    if (this.byTopic.size >= this.max && !this.byTopic.has(message.topic)) return 'full';
    this.byTopic.set(message.topic, { message, qos });
    return 'stored';
  }

  get(topic: string): RetainedMessage | undefined {
    return this.byTopic.get(topic);
  }

  /** Retained messages whose topic matches `filter`, oldest topic first. */
  *matching(filter: string): Iterable<RetainedMessage> {
    if (!filter.includes('+') && !filter.includes('#')) {
      const r = this.byTopic.get(filter);
      if (r) yield r;
      return;
    }
    for (const r of this.byTopic.values()) if (filterMatches(filter, r.message.topic)) yield r;
  }
}
