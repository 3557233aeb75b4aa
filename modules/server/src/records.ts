// How sessions, their messages and retained messages are written as key-value values.
// Sessions, subscriptions and in-flight states are records: a small JSON header and
// binary parts as they are (all numbers big-endian):
//
//   record := RECORD (u8, 1) | header length (u32) | header (JSON, UTF-8)
//             | part count (u8) | for each part: length (u32) | bytes

import { decodeUtf8, encodeUtf8 } from '../../shared/utf8.ts';
import type { QoS } from './codec/packets.ts';
import { type Message, type MessageProperties, makeMessage } from './message.ts';
import type { Inflight, Pending, SubscriptionOptions } from './session.ts';

const RECORD = 1;

/** A value that does not decode: written by something else, or damaged. */
export class RecordError extends Error {}

export function encodeRecord(header: unknown, parts: readonly Uint8Array[] = []): Uint8Array {
  const json = encodeUtf8(JSON.stringify(header));
  let size = 1 + 4 + json.length + 1;
  for (const p of parts) size += 4 + p.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = RECORD;
  view.setUint32(1, json.length);
  out.set(json, 5);
  let at = 5 + json.length;
  out[at++] = parts.length;
  for (const p of parts) {
    view.setUint32(at, p.length);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

export function decodeRecord(bytes: Uint8Array): { header: Record<string, unknown>; parts: Uint8Array[] } {
  if (bytes.length < 6 || bytes[0] !== RECORD) throw new RecordError('not a record');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const jsonLength = view.getUint32(1);
  let at = 5 + jsonLength;
  if (at + 1 > bytes.length) throw new RecordError('record header is cut short');
  let header: unknown;
  try {
    header = JSON.parse(decodeUtf8(bytes, 5, at));
  } catch {
    throw new RecordError('record header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new RecordError('record header is not an object');
  const count = bytes[at++];
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw new RecordError('record part is cut short');
    const length = view.getUint32(at);
    at += 4;
    if (at + length > bytes.length) throw new RecordError('record part is cut short');
    // Copied: the parts outlive the value they came in (a message payload is kept).
    parts.push(bytes.slice(at, at + length));
    at += length;
  }
  return { header: header as Record<string, unknown>, parts };
}

// ---- Messages ----
//
// Messages are written in a binary layout: they are the bulk of what is written (one
// entry per message per kept session), and QuickJS encodes this much faster than JSON.
//
//   message  := flags (u8: 1 expiry, 2 properties, 4 correlation data)
//               [expiresAt f64] topic length (u16) topic
//               [properties length (u32) properties as JSON] [correlation length (u32) bytes]
//               payload (the rest)
//   entry    := ENTRY (u8) qos (u8) flags (u8: 1 retain, 2 in flight, 4 PUBREL sent, 8 subscription ids)
//               [packet id (u16)] [count (u16) subscription ids (u32 each)] message
//   retained := RETAINED (u8) qos (u8) message
//
// The publisher (`Message.from`) is not kept: it serves no-local, which is applied when a
// message is routed, before any session or retained store holds it.

const ENTRY = 2;
const RETAINED = 3;

/**
 * The message part of an entry or retained message. A store writing one message for
 * many sessions encodes it once and passes it to `encodeEntry`.
 */
export function encodeMessage(m: Message): Uint8Array {
  const topic = m.topicBytes;
  let props: Uint8Array | undefined;
  let correlation: Uint8Array | undefined;
  if (m.properties !== undefined) {
    const { correlationData, ...rest } = m.properties;
    if (Object.keys(rest).length > 0) props = encodeUtf8(JSON.stringify(rest));
    correlation = correlationData;
  }
  const flags = (m.expiresAt !== undefined ? 1 : 0) | (props ? 2 : 0) | (correlation ? 4 : 0);
  const size =
    1 + (m.expiresAt !== undefined ? 8 : 0) + 2 + topic.length + (props ? 4 + props.length : 0) + (correlation ? 4 + correlation.length : 0) + m.payload.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = flags;
  let at = 1;
  if (m.expiresAt !== undefined) {
    view.setFloat64(at, m.expiresAt);
    at += 8;
  }
  view.setUint16(at, topic.length);
  out.set(topic, at + 2);
  at += 2 + topic.length;
  if (props) {
    view.setUint32(at, props.length);
    out.set(props, at + 4);
    at += 4 + props.length;
  }
  if (correlation) {
    view.setUint32(at, correlation.length);
    out.set(correlation, at + 4);
    at += 4 + correlation.length;
  }
  out.set(m.payload, at);
  return out;
}

function readMessage(bytes: Uint8Array, at: number): Message {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const need = (n: number) => {
    if (at + n > bytes.length) throw new RecordError('message is cut short');
  };
  need(3);
  const flags = bytes[at++];
  const meta: { properties?: MessageProperties; expiresAt?: number } = {};
  if (flags & 1) {
    need(8);
    meta.expiresAt = view.getFloat64(at);
    at += 8;
  }
  need(2);
  const topicLength = view.getUint16(at);
  at += 2;
  need(topicLength);
  const topic = decodeUtf8(bytes, at, at + topicLength);
  at += topicLength;
  if (flags & 2) {
    need(4);
    const n = view.getUint32(at);
    need(4 + n);
    try {
      meta.properties = JSON.parse(decodeUtf8(bytes, at + 4, at + 4 + n)) as MessageProperties;
    } catch {
      throw new RecordError('message properties are not JSON');
    }
    at += 4 + n;
  }
  if (flags & 4) {
    need(4);
    const n = view.getUint32(at);
    need(4 + n);
    meta.properties = { ...meta.properties, correlationData: bytes.slice(at + 4, at + 4 + n) };
    at += 4 + n;
  }
  // Copied: the payload outlives the value it came in.
  return makeMessage(topic, bytes.slice(at), meta);
}

function qosOf(v: unknown, min: 0 | 1): QoS {
  if (v !== 0 && v !== 1 && v !== 2) throw new RecordError(`bad QoS ${String(v)}`);
  if (v < min) throw new RecordError(`bad QoS ${v}`);
  return v;
}

/** A retained message. */
export function encodeRetained(message: Message, qos: QoS): Uint8Array {
  const part = encodeMessage(message);
  const out = new Uint8Array(2 + part.length);
  out[0] = RETAINED;
  out[1] = qos;
  out.set(part, 2);
  return out;
}

export function decodeRetained(bytes: Uint8Array): { message: Message; qos: QoS } {
  if (bytes.length < 2 || bytes[0] !== RETAINED) throw new RecordError('not a retained message');
  return { qos: qosOf(bytes[1], 0), message: readMessage(bytes, 2) };
}

/** A message of a session: queued (no packet id) or in flight (packet id and state). */
export function encodeEntry(entry: Pending | Inflight, part: Uint8Array = encodeMessage(entry.message)): Uint8Array {
  const inflight = 'packetId' in entry;
  const ids = entry.subscriptionIds;
  const flags = (entry.retain ? 1 : 0) | (inflight ? 2 : 0) | (inflight && entry.state === 'pubrel' ? 4 : 0) | (ids !== undefined ? 8 : 0);
  const head = 3 + (inflight ? 2 : 0) + (ids !== undefined ? 2 + 4 * ids.length : 0);
  const out = new Uint8Array(head + part.length);
  const view = new DataView(out.buffer);
  out[0] = ENTRY;
  out[1] = entry.qos;
  out[2] = flags;
  let at = 3;
  if (inflight) {
    view.setUint16(at, entry.packetId);
    at += 2;
  }
  if (ids !== undefined) {
    view.setUint16(at, ids.length);
    at += 2;
    for (const id of ids) {
      view.setUint32(at, id);
      at += 4;
    }
  }
  out.set(part, at);
  return out;
}

/** The packet id and state of a message that was queued when it was written and has been sent since. */
export interface InflightState {
  packetId: number;
  state: 'publish' | 'pubrel';
}

export function encodeInflightState(entry: Inflight): Uint8Array {
  return encodeRecord({ k: entry.packetId, s: entry.state });
}

export function decodeInflightState(bytes: Uint8Array): InflightState {
  const { header } = decodeRecord(bytes);
  const packetId = header.k;
  if (typeof packetId !== 'number' || !Number.isInteger(packetId) || packetId < 1 || packetId > 65535) throw new RecordError('bad packet id');
  return { packetId, state: header.s === 'pubrel' ? 'pubrel' : 'publish' };
}

/** A session's message with the `seq` of its key; `state` (when written apart) overrides what the entry says. */
export function decodeEntry(bytes: Uint8Array, seq: number, state?: InflightState): Pending | Inflight {
  if (bytes.length < 3 || bytes[0] !== ENTRY) throw new RecordError('not a session message');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const qos = qosOf(bytes[1], 1) as 1 | 2;
  const flags = bytes[2];
  let at = 3;
  let packetId: number | undefined;
  if (flags & 2) {
    if (at + 2 > bytes.length) throw new RecordError('session message is cut short');
    packetId = view.getUint16(at);
    at += 2;
  }
  let ids: number[] | undefined;
  if (flags & 8) {
    if (at + 2 > bytes.length) throw new RecordError('session message is cut short');
    const n = view.getUint16(at);
    at += 2;
    if (at + 4 * n > bytes.length) throw new RecordError('session message is cut short');
    ids = [];
    for (let i = 0; i < n; i++, at += 4) ids.push(view.getUint32(at));
  }
  const message = readMessage(bytes, at);
  const retain = (flags & 1) !== 0;
  const base: Pending = ids === undefined ? { seq, message, qos, retain } : { seq, message, qos, retain, subscriptionIds: ids };
  const id = state?.packetId ?? packetId;
  if (id === undefined || id === 0) return base;
  return { ...base, packetId: id, state: state?.state ?? ((flags & 4) !== 0 ? 'pubrel' : 'publish') };
}

// ---- Sessions ----

export interface SessionRecord {
  clientId: string;
  expirySeconds: number;
  /** When it ends, while offline; absent while connected (or never expiring). */
  expiresAt?: number;
}

export function encodeSession(r: SessionRecord): Uint8Array {
  return encodeRecord(r.expiresAt === undefined ? { c: r.clientId, x: r.expirySeconds } : { c: r.clientId, x: r.expirySeconds, e: r.expiresAt });
}

export function decodeSession(bytes: Uint8Array): SessionRecord {
  const { header } = decodeRecord(bytes);
  if (typeof header.c !== 'string' || typeof header.x !== 'number') throw new RecordError('session without client id or expiry');
  const r: SessionRecord = { clientId: header.c, expirySeconds: header.x };
  if (typeof header.e === 'number') r.expiresAt = header.e;
  return r;
}

export function encodeSubscription(filter: string, options: SubscriptionOptions): Uint8Array {
  return encodeRecord({ f: filter, o: options });
}

export function decodeSubscription(bytes: Uint8Array): [string, SubscriptionOptions] {
  const { header } = decodeRecord(bytes);
  const o = header.o as SubscriptionOptions | undefined;
  if (typeof header.f !== 'string' || o === undefined || typeof o !== 'object') throw new RecordError('subscription without filter or options');
  const options: SubscriptionOptions = {
    qos: qosOf(o.qos, 0),
    noLocal: o.noLocal === true,
    retainAsPublished: o.retainAsPublished === true,
    retainHandling: o.retainHandling === 1 || o.retainHandling === 2 ? o.retainHandling : 0,
  };
  if (typeof o.id === 'number') options.id = o.id;
  return [header.f, options];
}
