// MQTT 3.1.1 / 5.0 serializer. The server only sends CONNACK, PUBLISH, the acks,
// SUBACK, UNSUBACK, PINGRESP and (5.0) DISCONNECT; the client packets are here so
// that tests (and round trips) can speak the client side with the same typed packets.

import { encodeUtf8 } from '../../../shared/utf8.ts';
import { MAX_REMAINING_LENGTH, PACKET_TYPES, type Packet, type ProtocolVersion, type QoS, type Subscription } from './packets.ts';
import { PROPERTY_DEFS, type Properties, varintSize } from './properties.ts';

const PINGRESP = Uint8Array.of(0xd0, 0x00);
const EMPTY = new Uint8Array(0);

/** Allocates a packet of `remaining` body bytes, writes its fixed header, returns it and the body offset. */
function allocate(first: number, remaining: number): [Uint8Array, number] {
  if (remaining > MAX_REMAINING_LENGTH) throw new RangeError(`packet body of ${remaining} bytes is too large for MQTT`);
  const out = new Uint8Array(1 + varintSize(remaining) + remaining);
  out[0] = first;
  return [out, writeVarint(out, 1, remaining)];
}

/** Writes `n` as a Variable Byte Integer at `pos`; returns the position after it. */
function writeVarint(out: Uint8Array, pos: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out[pos++] = byte;
  } while (n > 0);
  return pos;
}

/** Bytes a packet of `remaining` body bytes takes on the wire, fixed header included. */
export function packetSize(remaining: number): number {
  return 1 + varintSize(remaining) + remaining;
}

export function encodeConnack(sessionPresent: boolean, returnCode: number, properties?: Properties): Uint8Array {
  if (properties === undefined) return Uint8Array.of(0x20, 0x02, sessionPresent ? 1 : 0, returnCode);
  // 5.0: the property list follows, even when empty (3.2.2.3).
  const w = new Writer();
  w.u8(sessionPresent ? 1 : 0);
  w.u8(returnCode);
  w.properties(properties);
  return w.packet(0x20);
}

type AckType = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP: a packet identifier, and in 5.0 a reason code and
 * properties, both left out when the code is 0 and there are none (3.4.2.1).
 */
export function encodeAck(type: AckType | 'unsuback', packetId: number, reasonCode = 0, properties?: Properties): Uint8Array {
  const first = (PACKET_TYPES[type] << 4) | (type === 'pubrel' ? 0b0010 : 0); // [MQTT-3.6.1-1]
  if (reasonCode === 0 && (properties === undefined || isEmpty(properties))) return Uint8Array.of(first, 0x02, packetId >> 8, packetId & 0xff);
  const w = new Writer();
  w.u16(packetId);
  w.u8(reasonCode);
  if (properties !== undefined && !isEmpty(properties)) w.properties(properties);
  return w.packet(first);
}

export function encodePingresp(): Uint8Array {
  return PINGRESP;
}

/** SUBACK; with `properties` (even empty) in the 5.0 layout. */
export function encodeSuback(packetId: number, returnCodes: readonly number[], properties?: Properties): Uint8Array {
  const props = properties === undefined ? undefined : propertyBytes(properties);
  const propsLength = props === undefined ? 0 : varintSize(props.length) + props.length;
  const [out, start] = allocate(0x90, 2 + propsLength + returnCodes.length);
  out[start] = packetId >> 8;
  out[start + 1] = packetId & 0xff;
  let pos = start + 2;
  if (props !== undefined) {
    pos = writeVarint(out, pos, props.length);
    out.set(props, pos);
    pos += props.length;
  }
  out.set(returnCodes, pos);
  return out;
}

/** 5.0 UNSUBACK: one reason code per filter. (3.1.1's is `encodeAck('unsuback', id)`.) */
export function encodeUnsuback5(packetId: number, reasonCodes: readonly number[], properties: Properties = {}): Uint8Array {
  const w = new Writer();
  w.u16(packetId);
  w.properties(properties);
  for (const c of reasonCodes) w.u8(c);
  return w.packet(0xb0);
}

/** 5.0 DISCONNECT from the server: a reason code and properties (a reason string, say). */
export function encodeDisconnect5(reasonCode: number, properties?: Properties): Uint8Array {
  if (properties === undefined || isEmpty(properties)) return reasonCode === 0 ? Uint8Array.of(0xe0, 0) : Uint8Array.of(0xe0, 1, reasonCode);
  const w = new Writer();
  w.u8(reasonCode);
  w.properties(properties);
  return w.packet(0xe0);
}

/**
 * 3.1.1 PUBLISH from an already encoded topic, so that a message fanned out to many
 * clients encodes its topic once. `packetId` is required when qos > 0.
 */
export function encodePublish(topic: Uint8Array, payload: Uint8Array, qos: QoS, retain: boolean, dup: boolean, packetId = 0): Uint8Array {
  const idBytes = qos > 0 ? 2 : 0;
  const first = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
  const [out, start] = allocate(first, 2 + topic.length + idBytes + payload.length);
  let pos = start;
  out[pos++] = topic.length >> 8;
  out[pos++] = topic.length & 0xff;
  out.set(topic, pos);
  pos += topic.length;
  if (qos > 0) {
    out[pos++] = packetId >> 8;
    out[pos++] = packetId & 0xff;
  }
  out.set(payload, pos);
  return out;
}

/**
 * 5.0 PUBLISH: like encodePublish, with property bytes (without their length) that
 * the caller built: `fixed` is shared by every delivery of a message, `expiry` and
 * `subscriptionIds` are per delivery.
 */
export function encodePublish5(
  topic: Uint8Array,
  payload: Uint8Array,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  packetId: number,
  fixed: Uint8Array,
  expiry: number | undefined,
  subscriptionIds: readonly number[] | undefined,
): Uint8Array {
  let propsLength = fixed.length;
  if (expiry !== undefined) propsLength += 5;
  if (subscriptionIds !== undefined) for (const id of subscriptionIds) propsLength += 1 + varintSize(id);
  const idBytes = qos > 0 ? 2 : 0;
  const first = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
  const [out, start] = allocate(first, 2 + topic.length + idBytes + varintSize(propsLength) + propsLength + payload.length);
  let pos = start;
  out[pos++] = topic.length >> 8;
  out[pos++] = topic.length & 0xff;
  out.set(topic, pos);
  pos += topic.length;
  if (qos > 0) {
    out[pos++] = packetId >> 8;
    out[pos++] = packetId & 0xff;
  }
  pos = writeVarint(out, pos, propsLength);
  if (expiry !== undefined) {
    // [MQTT-3.3.2-6] the expiry a subscriber sees is what is left of it.
    out[pos++] = 0x02;
    out[pos++] = (expiry >>> 24) & 0xff;
    out[pos++] = (expiry >>> 16) & 0xff;
    out[pos++] = (expiry >>> 8) & 0xff;
    out[pos++] = expiry & 0xff;
  }
  out.set(fixed, pos);
  pos += fixed.length;
  if (subscriptionIds !== undefined) {
    for (const id of subscriptionIds) {
      out[pos++] = 0x0b;
      pos = writeVarint(out, pos, id);
    }
  }
  out.set(payload, pos);
  return out;
}

/** Bytes the 5.0 PUBLISH built by encodePublish5 with these parts takes, fixed header included. */
export function publish5Size(
  topicLength: number,
  payloadLength: number,
  qos: QoS,
  fixedLength: number,
  expiry: boolean,
  subscriptionIds?: readonly number[],
): number {
  let propsLength = fixedLength + (expiry ? 5 : 0);
  if (subscriptionIds !== undefined) for (const id of subscriptionIds) propsLength += 1 + varintSize(id);
  return packetSize(2 + topicLength + (qos > 0 ? 2 : 0) + varintSize(propsLength) + propsLength + payloadLength);
}

/** The bytes of a property list, without its length, in table order. */
export function propertyBytes(properties: Properties): Uint8Array {
  if (isEmpty(properties)) return EMPTY;
  const w = new Writer();
  w.propertyList(properties);
  return w.bytes();
}

function isEmpty(properties: Properties): boolean {
  for (const key in properties) if ((properties as Record<string, unknown>)[key] !== undefined) return false;
  return true;
}

/** Any packet, from its typed form, in the layout of `version`. */
export function serialize(packet: Packet, version: ProtocolVersion = 4): Uint8Array {
  const v5 = version === 5;
  switch (packet.type) {
    case 'connack':
      return encodeConnack(packet.sessionPresent, packet.returnCode, v5 ? (packet.properties ?? {}) : undefined);
    case 'publish': {
      const w = new Writer();
      w.string(packet.topic);
      if (packet.qos > 0) w.u16(packet.packetId ?? 0);
      if (v5) w.properties(packet.properties ?? {});
      w.raw(packet.payload);
      return w.packet(0x30 | (packet.dup ? 0x08 : 0) | (packet.qos << 1) | (packet.retain ? 1 : 0));
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return v5 ? encodeAck(packet.type, packet.packetId, packet.reasonCode ?? 0, packet.properties) : encodeAck(packet.type, packet.packetId);
    case 'unsuback':
      return v5 ? encodeUnsuback5(packet.packetId, packet.reasonCodes ?? [], packet.properties) : encodeAck('unsuback', packet.packetId);
    case 'suback':
      return encodeSuback(packet.packetId, packet.returnCodes, v5 ? (packet.properties ?? {}) : undefined);
    case 'pingreq':
    case 'pingresp':
      return Uint8Array.of(PACKET_TYPES[packet.type] << 4, 0);
    case 'disconnect':
      return v5 ? encodeDisconnect5(packet.reasonCode ?? 0, packet.properties) : Uint8Array.of(0xe0, 0);
    case 'auth': {
      const w = new Writer();
      w.u8(packet.reasonCode);
      w.properties(packet.properties ?? {});
      return w.packet(0xf0);
    }
    case 'subscribe': {
      const w = new Writer();
      w.u16(packet.packetId);
      if (v5) w.properties(packet.properties ?? {});
      for (const s of packet.subscriptions) {
        w.string(s.filter);
        w.u8(v5 ? subscriptionOptions(s) : s.qos);
      }
      return w.packet(0x82);
    }
    case 'unsubscribe': {
      const w = new Writer();
      w.u16(packet.packetId);
      if (v5) w.properties(packet.properties ?? {});
      for (const f of packet.filters) w.string(f);
      return w.packet(0xa2);
    }
    case 'connect': {
      const w = new Writer();
      w.string(packet.protocolName);
      w.u8(packet.protocolLevel);
      let flags = packet.clean ? 0x02 : 0;
      if (packet.will) flags |= 0x04 | (packet.will.qos << 3) | (packet.will.retain ? 0x20 : 0);
      if (packet.password !== undefined) flags |= 0x40;
      if (packet.username !== undefined) flags |= 0x80;
      w.u8(flags);
      w.u16(packet.keepalive);
      const connect5 = packet.protocolLevel === 5;
      if (connect5) w.properties(packet.properties ?? {});
      w.string(packet.clientId);
      if (packet.will) {
        if (connect5) w.properties(packet.will.properties ?? {});
        w.string(packet.will.topic);
        w.binary(packet.will.payload);
      }
      if (packet.username !== undefined) w.string(packet.username);
      if (packet.password !== undefined) w.binary(packet.password);
      return w.packet(0x10);
    }
  }
}

function subscriptionOptions(s: Subscription): number {
  return s.qos | (s.noLocal ? 0x04 : 0) | (s.retainAsPublished ? 0x08 : 0) | ((s.retainHandling ?? 0) << 4);
}

class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  raw(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  u8(v: number): void {
    this.raw(Uint8Array.of(v));
  }

  u16(v: number): void {
    this.raw(Uint8Array.of(v >> 8, v & 0xff));
  }

  u32(v: number): void {
    this.raw(Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  }

  varint(v: number): void {
    const out = new Uint8Array(varintSize(v));
    writeVarint(out, 0, v);
    this.raw(out);
  }

  string(s: string): void {
    this.binary(encodeUtf8(s));
  }

  binary(b: Uint8Array): void {
    this.u16(b.length);
    this.raw(b);
  }

  /** A property list with its length in front. */
  properties(properties: Properties): void {
    const bytes = propertyBytes(properties);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  /** The properties themselves, in table order. */
  propertyList(properties: Properties): void {
    const values = properties as Record<string, unknown>;
    for (const def of PROPERTY_DEFS) {
      const value = values[def.name];
      if (value === undefined) continue;
      const items = def.name === 'subscriptionIdentifiers' || def.name === 'userProperties' ? (value as unknown[]) : [value];
      for (const item of items) {
        this.varint(def.id);
        switch (def.type) {
          case 'byte':
            this.u8(item as number);
            break;
          case 'u16':
            this.u16(item as number);
            break;
          case 'u32':
            this.u32(item as number);
            break;
          case 'varint':
            this.varint(item as number);
            break;
          case 'string':
            this.string(item as string);
            break;
          case 'binary':
            this.binary(item as Uint8Array);
            break;
          case 'pair': {
            const [k, v] = item as [string, string];
            this.string(k);
            this.string(v);
            break;
          }
        }
      }
    }
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let pos = 0;
    for (const p of this.parts) {
      out.set(p, pos);
      pos += p.length;
    }
    return out;
  }

  packet(first: number): Uint8Array {
    const [out, start] = allocate(first, this.size);
    let pos = start;
    for (const p of this.parts) {
      out.set(p, pos);
      pos += p.length;
    }
    return out;
  }
}
