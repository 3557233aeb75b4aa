// MQTT 3.1.1 serializer. The server only sends CONNACK, PUBLISH, the acks, SUBACK,
// UNSUBACK and PINGRESP; CONNECT, SUBSCRIBE and UNSUBSCRIBE are here so that tests
// (and round trips) can speak the client side with the same typed packets.

import { encodeUtf8 } from '../../../shared/utf8.ts';
import { MAX_REMAINING_LENGTH, PACKET_TYPES, type Packet, type QoS } from './packets.ts';

const PINGRESP = Uint8Array.of(0xd0, 0x00);

/** Bytes the remaining length `n` takes. */
function lengthSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Allocates a packet of `remaining` body bytes, writes its fixed header, returns it and the body offset. */
function allocate(first: number, remaining: number): [Uint8Array, number] {
  if (remaining > MAX_REMAINING_LENGTH) throw new RangeError(`packet body of ${remaining} bytes is too large for MQTT`);
  const out = new Uint8Array(1 + lengthSize(remaining) + remaining);
  out[0] = first;
  let pos = 1;
  let n = remaining;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out[pos++] = byte;
  } while (n > 0);
  return [out, pos];
}

export function encodeConnack(sessionPresent: boolean, returnCode: number): Uint8Array {
  return Uint8Array.of(0x20, 0x02, sessionPresent ? 1 : 0, returnCode);
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a packet identifier and nothing else. */
export function encodeAck(type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback', packetId: number): Uint8Array {
  const flags = type === 'pubrel' ? 0b0010 : 0; // [MQTT-3.6.1-1]
  return Uint8Array.of((PACKET_TYPES[type] << 4) | flags, 0x02, packetId >> 8, packetId & 0xff);
}

export function encodePingresp(): Uint8Array {
  return PINGRESP;
}

export function encodeSuback(packetId: number, returnCodes: readonly number[]): Uint8Array {
  const [out, pos] = allocate(0x90, 2 + returnCodes.length);
  out[pos] = packetId >> 8;
  out[pos + 1] = packetId & 0xff;
  out.set(returnCodes, pos + 2);
  return out;
}

/**
 * PUBLISH from an already encoded topic, so that a message fanned out to many
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

/** Any packet, from its typed form. */
export function serialize(packet: Packet): Uint8Array {
  switch (packet.type) {
    case 'connack':
      return encodeConnack(packet.sessionPresent, packet.returnCode);
    case 'publish':
      return encodePublish(encodeUtf8(packet.topic), packet.payload, packet.qos, packet.retain, packet.dup, packet.packetId);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return encodeAck(packet.type, packet.packetId);
    case 'suback':
      return encodeSuback(packet.packetId, packet.returnCodes);
    case 'pingreq':
    case 'pingresp':
    case 'disconnect':
      return Uint8Array.of(PACKET_TYPES[packet.type] << 4, 0);
    case 'subscribe': {
      const w = new Writer();
      w.u16(packet.packetId);
      for (const s of packet.subscriptions) {
        w.string(s.filter);
        w.u8(s.qos);
      }
      return w.packet(0x82);
    }
    case 'unsubscribe': {
      const w = new Writer();
      w.u16(packet.packetId);
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
      w.string(packet.clientId);
      if (packet.will) {
        w.string(packet.will.topic);
        w.binary(packet.will.payload);
      }
      if (packet.username !== undefined) w.string(packet.username);
      if (packet.password !== undefined) w.binary(packet.password);
      return w.packet(0x10);
    }
  }
}

class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  u8(v: number): void {
    this.push(Uint8Array.of(v));
  }

  u16(v: number): void {
    this.push(Uint8Array.of(v >> 8, v & 0xff));
  }

  string(s: string): void {
    this.binary(encodeUtf8(s));
  }

  binary(b: Uint8Array): void {
    this.u16(b.length);
    this.push(b);
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
