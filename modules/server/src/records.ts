// How sessions, their messages and retained messages are written as key-value values:
// a small JSON header and the binary parts (payload, correlation data) as they are.
//
//   value := version (u8, 1) | header length (u32 BE) | header (JSON, UTF-8)
//            | part count (u8) | for each part: length (u32 BE) | bytes

import { decodeUtf8, encodeUtf8 } from '../../shared/utf8.ts';
import type { QoS } from './codec/packets.ts';
import { type Message, type MessageProperties, makeMessage } from './message.ts';
import type { Inflight, Pending, SubscriptionOptions } from './session.ts';

const VERSION = 1;

/** A value that does not decode: written by something else, or damaged. */
export class RecordError extends Error {}

export function encodeRecord(header: unknown, parts: readonly Uint8Array[] = []): Uint8Array {
  const json = encodeUtf8(JSON.stringify(header));
  let size = 1 + 4 + json.length + 1;
  for (const p of parts) size += 4 + p.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
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
  if (bytes.length < 6 || bytes[0] !== VERSION) throw new RecordError(`not a record of version ${VERSION}`);
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

/** A message's state as a header and parts: topic, expiry, publisher, 5.0 properties; payload and correlation data as parts. */
function messageHeader(m: Message): { header: Record<string, unknown>; parts: Uint8Array[] } {
  const header: Record<string, unknown> = { t: m.topic };
  const parts = [m.payload];
  if (m.expiresAt !== undefined) header.e = m.expiresAt;
  if (m.from !== undefined) header.f = m.from;
  if (m.properties !== undefined) {
    const { correlationData, ...rest } = m.properties;
    if (Object.keys(rest).length > 0) header.p = rest;
    if (correlationData !== undefined) {
      header.c = 1;
      parts.push(correlationData);
    }
  }
  return { header, parts };
}

function readMessage(header: Record<string, unknown>, parts: Uint8Array[]): Message {
  const topic = header.t;
  if (typeof topic !== 'string' || parts.length < 1) throw new RecordError('message without topic or payload');
  const meta: { properties?: MessageProperties; expiresAt?: number; from?: string } = {};
  if (typeof header.e === 'number') meta.expiresAt = header.e;
  if (typeof header.f === 'string') meta.from = header.f;
  let properties: MessageProperties | undefined;
  if (header.p !== undefined) properties = { ...(header.p as MessageProperties) };
  if (header.c === 1) {
    if (parts.length < 2) throw new RecordError('message correlation data missing');
    properties = { ...properties, correlationData: parts[1] };
  }
  if (properties !== undefined) meta.properties = properties;
  return makeMessage(topic, parts[0], meta);
}

function qosOf(v: unknown, min: 0 | 1): QoS {
  if (v !== 0 && v !== 1 && v !== 2) throw new RecordError(`bad QoS ${String(v)}`);
  if (v < min) throw new RecordError(`bad QoS ${v}`);
  return v;
}

/** A retained message. */
export function encodeRetained(message: Message, qos: QoS): Uint8Array {
  const { header, parts } = messageHeader(message);
  header.q = qos;
  return encodeRecord(header, parts);
}

export function decodeRetained(bytes: Uint8Array): { message: Message; qos: QoS } {
  const { header, parts } = decodeRecord(bytes);
  return { message: readMessage(header, parts), qos: qosOf(header.q, 0) };
}

/** A message of a session: queued (no packet id) or in flight (packet id and state). */
export function encodeEntry(entry: Pending | Inflight): Uint8Array {
  const { header, parts } = messageHeader(entry.message);
  header.q = entry.qos;
  if (entry.retain) header.r = 1;
  if (entry.subscriptionIds !== undefined) header.i = entry.subscriptionIds;
  if ('packetId' in entry) {
    header.k = entry.packetId;
    if (entry.state === 'pubrel') header.s = 'pubrel';
  }
  return encodeRecord(header, parts);
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
  const { header, parts } = decodeRecord(bytes);
  const message = readMessage(header, parts);
  const qos = qosOf(header.q, 1) as 1 | 2;
  const retain = header.r === 1;
  const ids = Array.isArray(header.i) ? (header.i as number[]) : undefined;
  const packetId = state?.packetId ?? (typeof header.k === 'number' ? header.k : undefined);
  const base = ids === undefined ? { seq, message, qos, retain } : { seq, message, qos, retain, subscriptionIds: ids };
  if (packetId === undefined) return base;
  const inflightState = state?.state ?? (header.s === 'pubrel' ? 'pubrel' : 'publish');
  return { ...base, packetId, state: inflightState };
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
