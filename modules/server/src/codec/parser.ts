// Incremental MQTT 3.1.1 parser: one per connection, fed the bytes of each data
// event as they come. Packets may be split across events or several may share one.
// Throws ProtocolError for anything malformed; the connection is then unusable.

import { decodeUtf8Strict, Utf8Error } from '../../../shared/utf8.ts';
import { ProtocolError } from '../errors.ts';
import type { Packet, PacketType, QoS, Subscription, Will } from './packets.ts';

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
  undefined, // 15 is reserved
];

const EMPTY = new Uint8Array(0);
/** U+0000 or a byte that starts or continues a multi-byte UTF-8 sequence. */
const NOT_PLAIN_ASCII = /[\u0000\u0080-\u00ff]/;

export class PacketParser {
  private readonly maxRemainingLength: number;
  // Fixed header being read.
  private first = -1;
  private lengthBytes = 0;
  private remaining = 0;
  private multiplier = 1;
  // Body of a packet that spans data events.
  private body: Uint8Array | undefined;
  private filled = 0;

  /** `maxRemainingLength` bounds what one packet may make the parser buffer. */
  constructor(maxRemainingLength: number) {
    this.maxRemainingLength = maxRemainingLength;
  }

  /** Whether bytes of an unfinished packet are buffered. */
  get partial(): boolean {
    return this.first >= 0;
  }

  /**
   * Parses every complete packet in `chunk` (with what earlier chunks left),
   * calling `onPacket` for each in order. Parsing stops when `onPacket` returns
   * false (the connection is closing: what follows is not read) or throws.
   */
  feed(chunk: Uint8Array, onPacket: (packet: Packet) => boolean | void): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.body !== undefined) {
        const take = Math.min(this.remaining - this.filled, n - i);
        this.body.set(chunk.subarray(i, i + take), this.filled);
        this.filled += take;
        i += take;
        if (this.filled === this.remaining) {
          const body = this.body;
          const first = this.first;
          this.reset();
          if (onPacket(decodePacket(first, body)) === false) return;
        }
        continue;
      }
      const byte = chunk[i++];
      if (this.first < 0) {
        // Reject a reserved type at once rather than after buffering its body.
        if (TYPE_NAMES[byte >> 4] === undefined) throw new ProtocolError(`reserved packet type ${byte >> 4}`);
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
      if (this.remaining === 0) {
        const first = this.first;
        this.reset();
        if (onPacket(decodePacket(first, EMPTY)) === false) return;
        continue;
      }
      if (this.remaining > this.maxRemainingLength) {
        throw new ProtocolError(`packet of ${this.remaining} bytes exceeds the limit of ${this.maxRemainingLength}`);
      }
      const first = this.first;
      const length = this.remaining;
      if (n - i >= length) {
        // The whole body is in this chunk: decode it in place (decoders copy what they keep).
        const body = chunk.subarray(i, i + length);
        i += length;
        this.reset();
        if (onPacket(decodePacket(first, body)) === false) return;
      } else {
        this.body = new Uint8Array(length);
        this.filled = 0;
      }
    }
  }

  private reset(): void {
    this.first = -1;
    this.lengthBytes = 0;
    this.remaining = 0;
    this.multiplier = 1;
    this.body = undefined;
    this.filled = 0;
  }
}

/** Decodes one packet from its first byte and its body (the remaining-length bytes). */
export function decodePacket(first: number, body: Uint8Array): Packet {
  const type = TYPE_NAMES[first >> 4];
  const flags = first & 0x0f;
  if (type === undefined) throw new ProtocolError(`reserved packet type ${first >> 4}`);
  if (type !== 'publish') {
    // [MQTT-2.2.2-1] [MQTT-2.2.2-2] PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0b0010, all others 0.
    const expected = type === 'pubrel' || type === 'subscribe' || type === 'unsubscribe' ? 0b0010 : 0;
    if (flags !== expected) throw new ProtocolError(`${type} with invalid fixed header flags ${flags}`);
  }
  const r = new Reader(body, type);
  switch (type) {
    case 'connect':
      return decodeConnect(r);
    case 'connack': {
      const ackFlags = r.u8();
      if (ackFlags & 0xfe) throw new ProtocolError('connack with reserved flags set'); // [MQTT-3.2.2-1]
      const returnCode = r.u8();
      r.end();
      return { type, sessionPresent: (ackFlags & 1) === 1, returnCode };
    }
    case 'publish':
      return decodePublish(r, flags);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback': {
      const packetId = r.packetId();
      r.end();
      return { type, packetId };
    }
    case 'subscribe': {
      const packetId = r.packetId();
      const subscriptions: Subscription[] = [];
      while (!r.done) {
        const filter = r.string();
        const requested = r.u8();
        // [MQTT-3-8.3-4] reserved bits must be 0 and QoS 3 does not exist.
        if (requested > 2) throw new ProtocolError(`subscribe with invalid requested QoS byte ${requested}`);
        subscriptions.push({ filter, qos: requested as QoS });
      }
      if (subscriptions.length === 0) throw new ProtocolError('subscribe without topic filters'); // [MQTT-3.8.3-3]
      return { type, packetId, subscriptions };
    }
    case 'suback': {
      const packetId = r.packetId();
      const returnCodes: number[] = [];
      while (!r.done) {
        const code = r.u8();
        if (code > 2 && code !== 0x80) throw new ProtocolError(`suback with invalid return code ${code}`);
        returnCodes.push(code);
      }
      return { type, packetId, returnCodes };
    }
    case 'unsubscribe': {
      const packetId = r.packetId();
      const filters: string[] = [];
      while (!r.done) filters.push(r.string());
      if (filters.length === 0) throw new ProtocolError('unsubscribe without topic filters'); // [MQTT-3.10.3-2]
      return { type, packetId, filters };
    }
    case 'pingreq':
    case 'pingresp':
    case 'disconnect':
      r.end();
      return { type };
  }
}

function decodeConnect(r: Reader): Packet {
  const protocolName = r.string();
  const protocolLevel = r.u8();
  if (protocolName !== 'MQTT' || protocolLevel !== 4) {
    // Another protocol or version: its layout may differ, so stop here and let the
    // CONNECT handler refuse it [MQTT-3.1.2-1] [MQTT-3.1.2-2].
    return { type: 'connect', protocolName, protocolLevel, supported: false, clean: true, keepalive: 0, clientId: '' };
  }
  const flags = r.u8();
  if (flags & 0x01) throw new ProtocolError('connect with the reserved flag set'); // [MQTT-3.1.2-3]
  const clean = (flags & 0x02) !== 0;
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  const passwordFlag = (flags & 0x40) !== 0;
  const usernameFlag = (flags & 0x80) !== 0;
  if (willQos === 3) throw new ProtocolError('connect with will QoS 3'); // [MQTT-3.1.2-14]
  if (!willFlag && (willQos !== 0 || willRetain)) {
    throw new ProtocolError('connect with will QoS or retain but no will flag'); // [MQTT-3.1.2-13] [MQTT-3.1.2-15]
  }
  if (passwordFlag && !usernameFlag) throw new ProtocolError('connect with a password but no user name'); // [MQTT-3.1.2-22]
  const keepalive = r.u16();
  const clientId = r.string();
  let will: Will | undefined;
  if (willFlag) {
    const topic = r.string();
    const payload = r.binary();
    will = { topic, payload, qos: willQos as QoS, retain: willRetain };
  }
  const username = usernameFlag ? r.string() : undefined;
  const password = passwordFlag ? r.binary() : undefined;
  r.end();
  const packet: Packet = { type: 'connect', protocolName, protocolLevel, supported: true, clean, keepalive, clientId };
  if (will) packet.will = will;
  if (username !== undefined) packet.username = username;
  if (password !== undefined) packet.password = password;
  return packet;
}

function decodePublish(r: Reader, flags: number): Packet {
  const dup = (flags & 0x08) !== 0;
  const qos = (flags >> 1) & 0x03;
  const retain = (flags & 0x01) !== 0;
  if (qos === 3) throw new ProtocolError('publish with both QoS bits set'); // [MQTT-3.3.1-4]
  if (dup && qos === 0) throw new ProtocolError('publish QoS 0 with DUP set'); // [MQTT-3.3.1-2]
  const topic = r.string();
  const packetId = qos > 0 ? r.packetId() : undefined;
  // Copied: the body may be a view into a larger chunk that a stored message would keep alive.
  const payload = r.rest();
  if (packetId === undefined) return { type: 'publish', topic, payload, qos: 0, retain, dup };
  return { type: 'publish', topic, payload, qos: qos as QoS, retain, dup, packetId };
}

class Reader {
  private readonly bytes: Uint8Array;
  private readonly what: string;
  private pos = 0;

  constructor(bytes: Uint8Array, what: string) {
    this.bytes = bytes;
    this.what = what;
  }

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new ProtocolError(`${this.what} packet is truncated`);
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

  packetId(): number {
    const id = this.u16();
    if (id === 0) throw new ProtocolError(`${this.what} with packet identifier 0`); // [MQTT-2.3.1-1]
    return id;
  }

  /** A UTF-8 string with a two-byte length (1.5.3). */
  string(): string {
    const len = this.u16();
    this.need(len);
    const start = this.pos;
    this.pos += len;
    // Fast path for the usual short ASCII string: decode byte by byte in one native call and
    // let the (native) regex look for what needs the full decoder. Long strings go through the
    // chunked decoder: a huge argument list to fromCharCode overflows QuickJS's stack.
    if (len <= 1024) {
      const raw = len === 0 ? '' : String.fromCharCode.apply(null, this.bytes.subarray(start, start + len) as unknown as number[]);
      if (!NOT_PLAIN_ASCII.test(raw)) return raw;
    }
    let s: string;
    try {
      s = decodeUtf8Strict(this.bytes, start, start + len); // [MQTT-1.5.3-1]
    } catch (e) {
      if (e instanceof Utf8Error) throw new ProtocolError(`${this.what} string is not valid UTF-8`);
      throw e;
    }
    if (s.includes('\u0000')) throw new ProtocolError(`${this.what} string contains U+0000`); // [MQTT-1.5.3-2]
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
}
