// Incremental MQTT 3.1.1 / 5.0 parser: one per connection, fed the bytes of each data
// event as they come. Packets may be split across events or several may share one.
// Throws ProtocolError for anything malformed; the connection is then unusable.
//
// The protocol version is 3.1.1 until a 5.0 CONNECT is read: from then on the
// parser reads 5.0 layouts (properties, reason codes, AUTH).

import { decodeUtf8Strict, Utf8Error } from '../../../shared/utf8.ts';
import { ProtocolError } from '../errors.ts';
import type { ConnectPacket, Packet, PacketType, ProtocolVersion, PublishPacket, QoS, Subscription, Will } from './packets.ts';
import { PROPERTY_BY_ID, type Properties, type PropertyPlace } from './properties.ts';
import { REASON } from './reason-codes.ts';

const TYPE_NAMES: readonly (PacketType | undefined)[] = [
  undefined, // 0 is reserved
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth', // 15: reserved in 3.1.1
];

const EMPTY = new Uint8Array(0);
/** U+0000 or a byte that starts or continues a multi-byte UTF-8 sequence. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is one of the characters looked for.
const NOT_PLAIN_ASCII = /[\u0000\u0080-\u00ff]/;
/** The smallest buffer allocated for a packet that spans data events. */
const MIN_PARTIAL_BUFFER = 4096;

/** What the parser knows of the connection: the protocol version it reads, and its topic limit. */
export interface CodecState {
  version: ProtocolVersion;
  /** A PUBLISH topic longer than this (in bytes) is refused before it is decoded. */
  readonly maxTopicBytes?: number;
}

/**
 * Memory for packets that span data events, shared by all connections: the parser
 * asks before it grows a buffer and gives it back when the packet is complete or the
 * connection ends.
 */
export interface BufferBudget {
  /** False when `bytes` more would exceed the budget: the packet is refused. */
  reserve(bytes: number): boolean;
  release(bytes: number): void;
}

const UNLIMITED: BufferBudget = { reserve: () => true, release: () => {} };

export class PacketParser implements CodecState {
  /** 4 until a 5.0 CONNECT has been read. */
  version: ProtocolVersion = 4;
  readonly maxTopicBytes: number;
  private readonly maxRemainingLength: number;
  private readonly budget: BufferBudget;
  // Fixed header being read.
  private first = -1;
  private lengthBytes = 0;
  private remaining = 0;
  private multiplier = 1;
  // Body of a packet that spans data events: it grows with the bytes that arrive,
  // never to more than twice those (and MIN_PARTIAL_BUFFER), whatever length the header claims.
  private body: Uint8Array | undefined;
  private filled = 0;

  /**
   * `maxRemainingLength` bounds any one packet; `budget` bounds what all partial packets
   * hold together; a PUBLISH topic over `maxTopicBytes` is refused without being decoded.
   */
  constructor(maxRemainingLength: number, budget: BufferBudget = UNLIMITED, maxTopicBytes = 65535) {
    this.maxRemainingLength = maxRemainingLength;
    this.budget = budget;
    this.maxTopicBytes = maxTopicBytes;
  }

  /** Whether bytes of an unfinished packet are buffered. */
  get partial(): boolean {
    return this.first >= 0;
  }

  /** Bytes held for the unfinished packet. */
  get buffered(): number {
    return this.body?.length ?? 0;
  }

  /**
   * Parses every complete packet in `chunk` (with what earlier chunks left),
   * calling `onPacket` for each in order. Parsing stops when `onPacket` returns
   * false (the connection is closing: what follows is not read) or throws.
   */
  feed(chunk: Uint8Array, onPacket: (packet: Packet) => boolean | undefined): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.first >= 0 && this.lengthBytes > 0 && this.multiplier === 0) {
        // The header is complete and the body spans events: append what arrived.
        const take = Math.min(this.remaining - this.filled, n - i);
        this.ensure(this.filled + take);
        this.body!.set(chunk.subarray(i, i + take), this.filled);
        this.filled += take;
        i += take;
        if (this.filled === this.remaining) {
          const body = this.body!.length === this.remaining ? this.body! : this.body!.subarray(0, this.remaining);
          const first = this.first;
          this.reset();
          if (onPacket(decodePacket(first, body, this)) === false) return;
        }
        continue;
      }
      const byte = chunk[i++];
      if (this.first < 0) {
        // Reject a reserved type at once rather than after buffering its body.
        const type = TYPE_NAMES[byte >> 4];
        if (type === undefined || (type === 'auth' && this.version !== 5)) throw new ProtocolError(`reserved packet type ${byte >> 4}`);
        this.first = byte;
        continue;
      }
      this.remaining += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (byte & 0x80) {
        // The remaining length has at most four bytes (2.2.3): a continuation bit on the fourth is malformed.
        if (this.lengthBytes === 4) throw new ProtocolError('remaining length longer than 4 bytes');
        continue;
      }
      if (this.remaining > this.maxRemainingLength) {
        // Refused from the header alone: nothing of the body is read or held.
        throw new ProtocolError(`packet of ${this.remaining} bytes exceeds the limit of ${this.maxRemainingLength}`, REASON.packetTooLarge, 'max-packet-size');
      }
      const first = this.first;
      const length = this.remaining;
      if (length === 0) {
        this.reset();
        if (onPacket(decodePacket(first, EMPTY, this)) === false) return;
        continue;
      }
      if (n - i >= length) {
        // The whole body is in this chunk: decode it in place (decoders copy what they keep).
        const body = chunk.subarray(i, i + length);
        i += length;
        this.reset();
        if (onPacket(decodePacket(first, body, this)) === false) return;
      } else {
        this.multiplier = 0; // marks "header read, body pending"
        this.filled = 0;
      }
    }
  }

  /** Gives back what the unfinished packet holds: the connection is gone. */
  dispose(): void {
    this.reset();
  }

  /** Makes room for `size` bytes of body, growing by doubling within the budget. */
  private ensure(size: number): void {
    const have = this.body?.length ?? 0;
    if (size <= have) return;
    const grown = Math.min(this.remaining, Math.max(size, have * 2, MIN_PARTIAL_BUFFER));
    if (!this.budget.reserve(grown - have)) {
      throw new ProtocolError(`no memory left for partial packets (this one would hold ${grown} bytes)`, REASON.quotaExceeded, 'max-partial-packet-bytes');
    }
    const next = new Uint8Array(grown);
    if (this.body) next.set(this.body.subarray(0, this.filled));
    this.body = next;
  }

  private reset(): void {
    if (this.body) this.budget.release(this.body.length);
    this.first = -1;
    this.lengthBytes = 0;
    this.remaining = 0;
    this.multiplier = 1;
    this.body = undefined;
    this.filled = 0;
  }
}

/** Decodes one packet from its first byte and its body (the remaining-length bytes). */
export function decodePacket(first: number, body: Uint8Array, state: CodecState): Packet {
  const type = TYPE_NAMES[first >> 4];
  const flags = first & 0x0f;
  if (type === undefined || (type === 'auth' && state.version !== 5)) throw new ProtocolError(`reserved packet type ${first >> 4}`);
  if (type !== 'publish') {
    // [MQTT-2.2.2-1] [MQTT-2.2.2-2] PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0b0010, all others 0.
    const expected = type === 'pubrel' || type === 'subscribe' || type === 'unsubscribe' ? 0b0010 : 0;
    if (flags !== expected) throw new ProtocolError(`${type} with invalid fixed header flags ${flags}`);
  }
  const r = new Reader(body, type);
  if (type === 'connect') return decodeConnect(r, state);
  const v5 = state.version === 5;
  switch (type) {
    case 'connack': {
      const ackFlags = r.u8();
      if (ackFlags & 0xfe) throw new ProtocolError('connack with reserved flags set'); // [MQTT-3.2.2-1]
      const returnCode = r.u8();
      const properties = v5 ? r.properties('connack') : undefined;
      r.end();
      return withProperties({ type, sessionPresent: (ackFlags & 1) === 1, returnCode }, properties);
    }
    case 'publish':
      return decodePublish(r, flags, v5, state.maxTopicBytes ?? 65535);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const packetId = r.packetId();
      if (!v5) {
        r.end();
        return { type, packetId };
      }
      // 3.4.2.1: the reason code may be left out when it is 0, the properties when there are none.
      const reasonCode = r.done ? REASON.success : r.u8();
      const properties = r.done ? undefined : r.properties(type);
      r.end();
      return withProperties({ type, packetId, reasonCode }, properties);
    }
    case 'subscribe': {
      const packetId = r.packetId();
      const properties = v5 ? r.properties('subscribe') : undefined;
      const subscriptions: Subscription[] = [];
      while (!r.done) subscriptions.push(decodeSubscription(r, v5));
      if (subscriptions.length === 0) throw new ProtocolError('subscribe without topic filters', REASON.protocolError); // [MQTT-3.8.3-3]
      return withProperties({ type, packetId, subscriptions }, properties);
    }
    case 'suback': {
      const packetId = r.packetId();
      const properties = v5 ? r.properties('suback') : undefined;
      const returnCodes: number[] = [];
      while (!r.done) {
        const code = r.u8();
        if (!v5 && code > 2 && code !== 0x80) throw new ProtocolError(`suback with invalid return code ${code}`);
        returnCodes.push(code);
      }
      return withProperties({ type, packetId, returnCodes }, properties);
    }
    case 'unsubscribe': {
      const packetId = r.packetId();
      const properties = v5 ? r.properties('unsubscribe') : undefined;
      const filters: string[] = [];
      while (!r.done) filters.push(r.string());
      if (filters.length === 0) throw new ProtocolError('unsubscribe without topic filters', REASON.protocolError); // [MQTT-3.10.3-2]
      return withProperties({ type, packetId, filters }, properties);
    }
    case 'unsuback': {
      const packetId = r.packetId();
      if (!v5) {
        r.end();
        return { type, packetId };
      }
      const properties = r.properties('unsuback');
      const reasonCodes: number[] = [];
      while (!r.done) reasonCodes.push(r.u8());
      return withProperties({ type, packetId, reasonCodes }, properties);
    }
    case 'pingreq':
    case 'pingresp':
      r.end();
      return { type };
    case 'disconnect':
    case 'auth': {
      if (!v5) {
        r.end();
        return { type: 'disconnect' };
      }
      // 3.14.2.1 / 3.15.2.1: an empty body means reason 0 and no properties.
      const reasonCode = r.done ? REASON.success : r.u8();
      const properties = r.done ? undefined : r.properties(type);
      r.end();
      return withProperties({ type, reasonCode }, properties);
    }
  }
}

function withProperties<P extends Exclude<Packet, { type: 'pingreq' | 'pingresp' }>>(packet: P, properties: Properties | undefined): P {
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeConnect(r: Reader, state: CodecState): Packet {
  const protocolName = r.string();
  const protocolLevel = r.u8();
  if (protocolName !== 'MQTT' || (protocolLevel !== 4 && protocolLevel !== 5)) {
    // Another protocol or version: its layout may differ, so stop here and let the
    // CONNECT handler refuse it [MQTT-3.1.2-1] [MQTT-3.1.2-2].
    return { type: 'connect', protocolName, protocolLevel, supported: false, clean: true, keepalive: 0, clientId: '' };
  }
  // From here on the connection speaks this version, even if the rest of CONNECT is
  // malformed: a 5.0 client is then told so in a 5.0 CONNACK.
  state.version = protocolLevel;
  const v5 = protocolLevel === 5;
  const flags = r.u8();
  if (flags & 0x01) throw new ProtocolError('connect with the reserved flag set'); // [MQTT-3.1.2-3]
  const clean = (flags & 0x02) !== 0;
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  const passwordFlag = (flags & 0x40) !== 0;
  const usernameFlag = (flags & 0x80) !== 0;
  if (willQos === 3) throw new ProtocolError('connect with will QoS 3'); // [MQTT-3.1.2-14] (5.0: [MQTT-3.1.2-12])
  if (!willFlag && (willQos !== 0 || willRetain)) {
    throw new ProtocolError('connect with will QoS or retain but no will flag'); // [MQTT-3.1.2-13] [MQTT-3.1.2-15]
  }
  // 3.1.1 cannot send a password without a user name [MQTT-3.1.2-22]; 5.0 can.
  if (!v5 && passwordFlag && !usernameFlag) throw new ProtocolError('connect with a password but no user name');
  const keepalive = r.u16();
  const properties = v5 ? r.properties('connect') : undefined;
  const clientId = r.string();
  let will: Will | undefined;
  if (willFlag) {
    const willProperties = v5 ? r.properties('will') : undefined;
    const topic = r.string();
    const payload = r.binary();
    will = { topic, payload, qos: willQos as QoS, retain: willRetain };
    if (willProperties) will.properties = willProperties;
  }
  const username = usernameFlag ? r.string() : undefined;
  const password = passwordFlag ? r.binary() : undefined;
  r.end();
  const packet: ConnectPacket = { type: 'connect', protocolName, protocolLevel, supported: true, clean, keepalive, clientId };
  if (will) packet.will = will;
  if (username !== undefined) packet.username = username;
  if (password !== undefined) packet.password = password;
  if (properties) packet.properties = properties;
  return packet;
}

function decodePublish(r: Reader, flags: number, v5: boolean, maxTopicBytes: number): Packet {
  const dup = (flags & 0x08) !== 0;
  const qos = (flags >> 1) & 0x03;
  const retain = (flags & 0x01) !== 0;
  if (qos === 3) throw new ProtocolError('publish with both QoS bits set'); // [MQTT-3.3.1-4]
  if (dup && qos === 0) throw new ProtocolError('publish QoS 0 with DUP set'); // [MQTT-3.3.1-2]
  // A topic the server refuses anyway is not worth decoding (up to 64 KB of it, per packet).
  const topicBytes = r.peekU16();
  if (topicBytes > maxTopicBytes) {
    throw new ProtocolError(`publish: topic is longer than ${maxTopicBytes} bytes`, REASON.topicNameInvalid, 'max-topic-length');
  }
  const topic = r.string();
  const packetId = qos > 0 ? r.packetId() : undefined;
  const properties = v5 ? r.properties('publish') : undefined;
  // Copied: the body may be a view into a larger chunk that a stored message would keep alive.
  const payload = r.rest();
  const packet: PublishPacket =
    packetId === undefined
      ? { type: 'publish', topic, payload, qos: 0, retain, dup }
      : { type: 'publish', topic, payload, qos: qos as QoS, retain, dup, packetId };
  if (properties) packet.properties = properties;
  return packet;
}

function decodeSubscription(r: Reader, v5: boolean): Subscription {
  const filter = r.string();
  const options = r.u8();
  const qos = options & 0x03;
  if (qos === 3) throw new ProtocolError(`subscribe with requested QoS 3`); // [MQTT-3-8.3-4] (5.0: 3.8.3.1)
  if (!v5) {
    // [MQTT-3-8.3-4] the upper six bits are reserved in 3.1.1.
    if (options > 2) throw new ProtocolError(`subscribe with invalid requested QoS byte ${options}`);
    return { filter, qos: qos as QoS };
  }
  if (options & 0xc0) throw new ProtocolError(`subscribe with reserved option bits set (${options})`); // [MQTT-3.8.3-5]
  const retainHandling = (options >> 4) & 0x03;
  if (retainHandling === 3) throw new ProtocolError('subscribe with retain handling 3', REASON.protocolError); // 3.8.3.1
  return {
    filter,
    qos: qos as QoS,
    noLocal: (options & 0x04) !== 0,
    retainAsPublished: (options & 0x08) !== 0,
    retainHandling: retainHandling as 0 | 1 | 2,
  };
}

class Reader {
  private readonly bytes: Uint8Array;
  private readonly what: string;
  private pos = 0;
  /** Where reading must stop: the body's end, or the end of a property list while reading one. */
  private limit: number;

  constructor(bytes: Uint8Array, what: string) {
    this.bytes = bytes;
    this.what = what;
    this.limit = bytes.length;
  }

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  private need(n: number): void {
    if (this.pos + n > this.limit) throw new ProtocolError(`${this.what} packet is truncated`);
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = (this.bytes[this.pos] << 8) | this.bytes[this.pos + 1];
    this.pos += 2;
    return v;
  }

  /** The next two bytes as a u16, without consuming them (0 when fewer are left). */
  peekU16(): number {
    return this.pos + 2 <= this.limit ? (this.bytes[this.pos] << 8) | this.bytes[this.pos + 1] : 0;
  }

  u32(): number {
    this.need(4);
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
  }

  /** A Variable Byte Integer (1.5.5): at most four bytes, in the fewest bytes [MQTT-1.5.5-1]. */
  varint(): number {
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < 4; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new ProtocolError(`${this.what}: variable byte integer not in its shortest form`);
        return value;
      }
      multiplier *= 128;
    }
    throw new ProtocolError(`${this.what}: variable byte integer longer than 4 bytes`);
  }

  packetId(): number {
    const id = this.u16();
    if (id === 0) throw new ProtocolError(`${this.what} with packet identifier 0`); // [MQTT-2.3.1-1]
    return id;
  }

  /** A UTF-8 string with a two-byte length (1.5.3 / 1.5.4). */
  string(): string {
    const len = this.u16();
    this.need(len);
    const start = this.pos;
    this.pos += len;
    // Fast path for ASCII: decode in native calls of up to 1024 bytes (a huge argument list to
    // fromCharCode overflows QuickJS's stack) and let the (native) regex look for what needs
    // the full decoder, which runs in the interpreter byte by byte.
    if (len === 0) return '';
    const end = start + len;
    let raw = '';
    for (let at = start; at < end; at += 1024) {
      const part = String.fromCharCode.apply(null, this.bytes.subarray(at, Math.min(at + 1024, end)) as unknown as number[]);
      if (NOT_PLAIN_ASCII.test(part)) {
        raw = '';
        break;
      }
      raw += part;
    }
    if (raw.length === len) return raw;
    let s: string;
    try {
      s = decodeUtf8Strict(this.bytes, start, end); // [MQTT-1.5.3-1] (5.0: [MQTT-1.5.4-1])
    } catch (e) {
      if (e instanceof Utf8Error) throw new ProtocolError(`${this.what} string is not valid UTF-8`);
      throw e;
    }
    if (s.includes('\u0000')) throw new ProtocolError(`${this.what} string contains U+0000`); // [MQTT-1.5.3-2] (5.0: [MQTT-1.5.4-2])
    return s;
  }

  /** Binary data with a two-byte length, copied. */
  binary(): Uint8Array {
    const len = this.u16();
    this.need(len);
    const out = this.bytes.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  rest(): Uint8Array {
    const out = this.bytes.slice(this.pos);
    this.pos = this.bytes.length;
    return out;
  }

  end(): void {
    if (this.pos !== this.bytes.length) throw new ProtocolError(`${this.what} packet has ${this.bytes.length - this.pos} unexpected trailing bytes`);
  }

  /**
   * A 5.0 property list (2.2.2): its length, then properties. An id that is unknown
   * or not allowed in `place`, or a value of the wrong shape, is a Malformed Packet
   * (2.2.2.2); a repeated property or a forbidden value is a Protocol Error.
   */
  properties(place: PropertyPlace): Properties | undefined {
    const length = this.varint();
    this.need(length);
    if (length === 0) return undefined;
    const end = this.pos + length;
    const outer = this.limit;
    this.limit = end;
    const props: Properties = {};
    let seenLow = 0; // ids 0-31
    let seenHigh = 0; // ids 32-63
    while (this.pos < end) {
      const id = this.varint();
      const def = id < PROPERTY_BY_ID.length ? PROPERTY_BY_ID[id] : undefined;
      if (!def) throw new ProtocolError(`${this.what}: unknown property id ${id}`);
      if (!def.places.includes(place)) throw new ProtocolError(`${this.what}: property ${def.name} is not allowed in ${place}`);
      const bit = 1 << (id & 31);
      const seen = id < 32 ? seenLow & bit : seenHigh & bit;
      if (seen && !def.repeatable?.includes(place)) throw new ProtocolError(`${this.what}: property ${def.name} appears twice`, REASON.protocolError);
      if (id < 32) seenLow |= bit;
      else seenHigh |= bit;
      switch (def.type) {
        case 'byte':
        case 'u16':
        case 'u32':
        case 'varint': {
          const v = def.type === 'byte' ? this.u8() : def.type === 'u16' ? this.u16() : def.type === 'u32' ? this.u32() : this.varint();
          const problem = def.invalid?.(v);
          if (problem) throw new ProtocolError(`${this.what}: property ${def.name} ${problem}`, REASON.protocolError);
          if (def.name !== 'subscriptionIdentifiers') (props as Record<string, unknown>)[def.name] = v;
          else if (props.subscriptionIdentifiers === undefined) props.subscriptionIdentifiers = [v];
          else props.subscriptionIdentifiers.push(v);
          break;
        }
        case 'string':
          (props as Record<string, unknown>)[def.name] = this.string();
          break;
        case 'binary':
          (props as Record<string, unknown>)[def.name] = this.binary();
          break;
        case 'pair': {
          const key = this.string();
          const value = this.string();
          if (props.userProperties === undefined) props.userProperties = [[key, value]];
          else props.userProperties.push([key, value]);
          break;
        }
      }
    }
    this.limit = outer;
    return props;
  }
}
