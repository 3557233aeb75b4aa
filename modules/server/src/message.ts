// An application message as the server keeps and forwards it, and its PUBLISH packet
// for one subscriber's connection (3.1.1 or 5.0, within that client's maximum packet size).

import { encodeUtf8 } from '../../shared/utf8.ts';
import type { ProtocolVersion, QoS } from './codec/packets.ts';
import type { Properties } from './codec/properties.ts';
import { encodePublish, encodePublish5, packetSize, propertyBytes, publish5Size } from './codec/serializer.ts';

/**
 * The 5.0 properties a message carries from its publisher to its subscribers
 * unchanged [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17]. Message
 * expiry is kept as `Message.expiresAt`; topic aliases and subscription identifiers
 * belong to one connection and are not forwarded.
 */
export interface MessageProperties {
  payloadFormatIndicator?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  userProperties?: [string, string][];
}

/**
 * An application message on its way to subscribers: shared by every delivery of it.
 * `topic`, `payload`, `properties`, `expiresAt` and `from` are its state (plain data,
 * what a store would keep); the rest are encodings cached on first use.
 */
export interface Message {
  readonly topic: string;
  /** The topic as UTF-8, encoded once however many clients receive it. */
  readonly topicBytes: Uint8Array;
  readonly payload: Uint8Array;
  readonly properties?: MessageProperties;
  /** When it expires (ms since the epoch) [MQTT-3.3.2-5]; absent: never. */
  readonly expiresAt?: number;
  /** Client id of the publisher, for no-local subscriptions [MQTT-3.8.3-3]; absent for bus messages. */
  readonly from?: string;
  /** The 3.1.1 QoS 0, non-retained PUBLISH for it, sent to every such subscriber. */
  qos0Packet?: Uint8Array;
  /** The 5.0 QoS 0, non-retained PUBLISH without expiry or subscription identifiers. */
  qos0Packet5?: Uint8Array;
  /** Its 5.0 properties as bytes (without expiry), encoded once. */
  propertyBytes?: Uint8Array;
}

const EMPTY = new Uint8Array(0);

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

export interface MessageMeta {
  properties?: MessageProperties;
  expiresAt?: number;
  from?: string;
}

export function makeMessage(topic: string, payload: Uint8Array, meta?: MessageMeta): Message {
  if (meta === undefined) return { topic, topicBytes: topicBytes(topic), payload };
  return { topic, topicBytes: topicBytes(topic), payload, ...meta };
}

/** A message's state as plain data, for a store. */
export interface MessageSnapshot {
  topic: string;
  payload: Uint8Array;
  properties?: MessageProperties;
  expiresAt?: number;
  from?: string;
}

export function messageSnapshot(m: Message): MessageSnapshot {
  const out: MessageSnapshot = { topic: m.topic, payload: m.payload };
  if (m.properties !== undefined) out.properties = m.properties;
  if (m.expiresAt !== undefined) out.expiresAt = m.expiresAt;
  if (m.from !== undefined) out.from = m.from;
  return out;
}

/** The forwarded properties of a PUBLISH or will, or undefined when it has none. */
export function messageProperties(p: Properties | undefined): MessageProperties | undefined {
  if (p === undefined) return undefined;
  const { payloadFormatIndicator, contentType, responseTopic, correlationData, userProperties } = p;
  if (
    payloadFormatIndicator === undefined &&
    contentType === undefined &&
    responseTopic === undefined &&
    correlationData === undefined &&
    userProperties === undefined
  ) {
    return undefined;
  }
  const out: MessageProperties = {};
  if (payloadFormatIndicator !== undefined) out.payloadFormatIndicator = payloadFormatIndicator;
  if (contentType !== undefined) out.contentType = contentType;
  if (responseTopic !== undefined) out.responseTopic = responseTopic;
  if (correlationData !== undefined) out.correlationData = correlationData;
  if (userProperties !== undefined) out.userProperties = userProperties;
  return out;
}

/** Whether `message` has expired at `now`. */
export function expired(message: Message, now: number): boolean {
  return message.expiresAt !== undefined && message.expiresAt <= now;
}

/** What a connection needs known to encode a PUBLISH for it. */
export interface PublishTarget {
  readonly version: ProtocolVersion;
  /** The client's Maximum Packet Size (5.0); Infinity when it set none. */
  readonly maxPacketSize: number;
}

/**
 * The PUBLISH of `message` for `target`, or undefined when it would exceed the
 * client's maximum packet size: the server then drops it as if delivered [MQTT-3.1.2-25].
 * Forwarded messages carry RETAIN only when asked (retained on subscribe, or
 * retain-as-published) [MQTT-3.3.1-9]; DUP only on a resend [MQTT-3.3.1-1].
 */
export function publishPacket(
  target: PublishTarget,
  message: Message,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  packetId: number,
  subscriptionIds: readonly number[] | undefined,
  now: number,
): Uint8Array | undefined {
  const topic = message.topicBytes;
  const payload = message.payload;
  if (target.version !== 5) {
    if (target.maxPacketSize !== Infinity && packetSize(2 + topic.length + (qos > 0 ? 2 : 0) + payload.length) > target.maxPacketSize) return undefined;
    if (qos === 0 && !retain) {
      if (message.qos0Packet === undefined) message.qos0Packet = encodePublish(topic, payload, 0, false, false);
      return message.qos0Packet;
    }
    return encodePublish(topic, payload, qos, retain, dup, packetId);
  }
  if (message.propertyBytes === undefined) message.propertyBytes = message.properties ? propertyBytes(message.properties) : EMPTY;
  const fixed = message.propertyBytes;
  const expiry = message.expiresAt === undefined ? undefined : Math.max(0, Math.ceil((message.expiresAt - now) / 1000));
  if (
    target.maxPacketSize !== Infinity &&
    publish5Size(topic.length, payload.length, qos, fixed.length, expiry !== undefined, subscriptionIds) > target.maxPacketSize
  ) {
    return undefined;
  }
  if (qos === 0 && !retain && expiry === undefined && subscriptionIds === undefined) {
    if (message.qos0Packet5 === undefined) message.qos0Packet5 = encodePublish5(topic, payload, 0, false, false, 0, fixed, undefined, undefined);
    return message.qos0Packet5;
  }
  return encodePublish5(topic, payload, qos, retain, dup, packetId, fixed, expiry, subscriptionIds);
}
