import { encodeUtf8 } from '../../shared/utf8.ts';
import { encodePublish } from './codec/serializer.ts';

/** An application message on its way to subscribers: shared by every delivery of it. */
export interface Message {
  readonly topic: string;
  /** The topic as UTF-8, encoded once however many clients receive it. */
  readonly topicBytes: Uint8Array;
  readonly payload: Uint8Array;
  /** The QoS 0, non-retained PUBLISH for it, built on first use and sent to every QoS 0 subscriber. */
  qos0Packet?: Uint8Array;
}

// Devices publish to the same few topics over and over: encoding each topic once saves
// more than the lookup costs under QuickJS. Cleared when full, so it stays bounded.
const TOPIC_CACHE_SIZE = 4096;
const topicCache = new Map<string, Uint8Array>();

/** The UTF-8 bytes of `topic`, shared: callers must not modify them. */
export function topicBytes(topic: string): Uint8Array {
  let bytes = topicCache.get(topic);
  if (bytes === undefined) {
    if (topicCache.size >= TOPIC_CACHE_SIZE) topicCache.clear();
    bytes = encodeUtf8(topic).slice(); // compact: encodeUtf8 returns a view of a larger buffer
    topicCache.set(topic, bytes);
  }
  return bytes;
}

export function makeMessage(topic: string, payload: Uint8Array): Message {
  return { topic, topicBytes: topicBytes(topic), payload };
}

export function qos0Packet(message: Message): Uint8Array {
  // Forwarded messages carry RETAIN 0 [MQTT-3.3.1-9] and DUP 0 [MQTT-3.3.1-2].
  return (message.qos0Packet ??= encodePublish(message.topicBytes, message.payload, 0, false, false));
}
