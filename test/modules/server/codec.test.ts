import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Packet } from '../../../modules/server/src/codec/packets.ts';
import { PacketParser } from '../../../modules/server/src/codec/parser.ts';
import { encodePublish, serialize } from '../../../modules/server/src/codec/serializer.ts';
import { ProtocolError } from '../../../modules/server/src/errors.ts';
import { bytes, enc, show } from './harness.ts';

function parseAll(input: Uint8Array | Uint8Array[], max = 1 << 20): Packet[] {
  const parser = new PacketParser(max);
  const out: Packet[] = [];
  for (const chunk of Array.isArray(input) ? input : [input]) parser.feed(chunk, (p) => void out.push(p));
  return out;
}

function parseOne(input: number[]): Packet {
  const out = parseAll(Uint8Array.from(input));
  assert.equal(out.length, 1);
  return out[0];
}

function rejects(input: number[] | Uint8Array, pattern: RegExp, max?: number): void {
  assert.throws(
    () => parseAll(input instanceof Uint8Array ? input : Uint8Array.from(input), max),
    (e: unknown) => {
      assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${String(e)}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

// Hand-written wire fixtures (from the spec's layouts), so parser and serializer are not only checked against each other.
const fixtures: [string, number[], Packet][] = [
  [
    'CONNECT',
    [0x10, 0x0f, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 60, 0, 3, 0x61, 0x62, 0x63],
    { type: 'connect', protocolName: 'MQTT', protocolLevel: 4, supported: true, clean: true, keepalive: 60, clientId: 'abc' },
  ],
  ['CONNACK', [0x20, 0x02, 0x01, 0x00], { type: 'connack', sessionPresent: true, returnCode: 0 }],
  [
    'PUBLISH QoS 1',
    [0x32, 0x09, 0, 3, 0x61, 0x2f, 0x62, 0, 10, 0x68, 0x69],
    { type: 'publish', topic: 'a/b', payload: enc('hi'), qos: 1, retain: false, dup: false, packetId: 10 },
  ],
  [
    'PUBLISH QoS 2 DUP RETAIN',
    [0x3d, 0x07, 0, 1, 0x74, 0x12, 0x34, 0x78, 0x79],
    { type: 'publish', topic: 't', payload: enc('xy'), qos: 2, retain: true, dup: true, packetId: 0x1234 },
  ],
  ['PUBLISH QoS 0 empty payload', [0x30, 0x03, 0, 1, 0x74], { type: 'publish', topic: 't', payload: new Uint8Array(0), qos: 0, retain: false, dup: false }],
  ['PUBACK', [0x40, 2, 0, 7], { type: 'puback', packetId: 7 }],
  ['PUBREC', [0x50, 2, 1, 0], { type: 'pubrec', packetId: 256 }],
  ['PUBREL', [0x62, 2, 0, 5], { type: 'pubrel', packetId: 5 }],
  ['PUBCOMP', [0x70, 2, 0xff, 0xff], { type: 'pubcomp', packetId: 65535 }],
  [
    'SUBSCRIBE',
    [0x82, 0x0c, 0, 1, 0, 3, 0x61, 0x2f, 0x23, 1, 0, 1, 0x2b, 2],
    {
      type: 'subscribe',
      packetId: 1,
      subscriptions: [
        { filter: 'a/#', qos: 1 },
        { filter: '+', qos: 2 },
      ],
    },
  ],
  ['SUBACK', [0x90, 4, 0, 1, 1, 0x80], { type: 'suback', packetId: 1, returnCodes: [1, 0x80] }],
  ['UNSUBSCRIBE', [0xa2, 7, 0, 2, 0, 3, 0x61, 0x2f, 0x23], { type: 'unsubscribe', packetId: 2, filters: ['a/#'] }],
  ['UNSUBACK', [0xb0, 2, 0, 2], { type: 'unsuback', packetId: 2 }],
  ['PINGREQ', [0xc0, 0], { type: 'pingreq' }],
  ['PINGRESP', [0xd0, 0], { type: 'pingresp' }],
  ['DISCONNECT', [0xe0, 0], { type: 'disconnect' }],
];

describe('codec: wire fixtures', () => {
  for (const [name, wire, packet] of fixtures) {
    it(`parses ${name}`, () => assert.deepEqual(show(parseOne(wire)), show(packet)));
    it(`serializes ${name}`, () => assert.deepEqual([...serialize(packet)], wire));
  }

  it('round-trips a CONNECT with will, user name and password', () => {
    const packet: Packet = {
      type: 'connect',
      protocolName: 'MQTT',
      protocolLevel: 4,
      supported: true,
      clean: false,
      keepalive: 65535,
      clientId: 'ü-client',
      will: { topic: 'dead/ü', payload: Uint8Array.of(0, 1, 255), qos: 2, retain: true },
      username: 'user',
      password: Uint8Array.of(0xff, 0),
    };
    const wire = serialize(packet);
    // Flags: user name, password, will retain, will QoS 2, will flag; not clean.
    assert.equal(wire[9], 0x80 | 0x40 | 0x20 | 0x10 | 0x04);
    assert.deepEqual(show(parseOne([...wire])), show(packet));
  });

  it('parses a CONNECT of another protocol version only up to its level', () => {
    const wire = [0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 6, 0x02, 0, 60, 0x00, 0x00];
    const p = parseOne(wire);
    assert.equal(p.type, 'connect');
    assert.equal((p as { supported: boolean }).supported, false);
    assert.equal((p as { protocolLevel: number }).protocolLevel, 6);
  });
});

describe('codec: remaining length', () => {
  const cases: [number, number[]][] = [
    [0, [0x00]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [16_383, [0xff, 0x7f]],
    [16_384, [0x80, 0x80, 0x01]],
    [2_097_151, [0xff, 0xff, 0x7f]],
    [2_097_152, [0x80, 0x80, 0x80, 0x01]],
    [268_435_455, [0xff, 0xff, 0xff, 0x7f]],
  ];
  for (const [length, encoded] of cases) {
    it(`encodes ${length} as ${encoded.length} byte(s)`, () => {
      // A QoS 0 PUBLISH with a one-byte topic has 3 bytes before its payload.
      if (length < 3) return;
      const packet = encodePublish(enc('t'), new Uint8Array(length - 3), 0, false, false);
      assert.deepEqual([...packet.subarray(1, 1 + encoded.length)], encoded);
      assert.equal(packet.length, 1 + encoded.length + length);
    });
    it(`decodes ${encoded.length}-byte length ${length}`, () => {
      // The parser reports the length through its size check.
      if (length === 0) return assert.deepEqual(parseOne([0xc0, ...encoded]), { type: 'pingreq' });
      rejects([0x30, ...encoded], new RegExp(`packet of ${length} bytes`), length - 1);
    });
  }

  it('rejects a fifth remaining-length byte', () => rejects([0x30, 0xff, 0xff, 0xff, 0xff, 0x01], /longer than 4 bytes/));
  it('rejects an oversized packet from its header, before the body arrives', () =>
    rejects([0x30, 0xe5, 0x00], /packet of 101 bytes exceeds the limit of 100/, 100));
  it('accepts a packet exactly at the limit', () => {
    const p = encodePublish(enc('t'), new Uint8Array(97), 0, false, false);
    assert.equal(parseAll(p, 100).length, 1);
  });
});

describe('codec: streaming', () => {
  const stream = bytes(...fixtures.map(([, wire]) => wire), encodePublish(enc('big'), new Uint8Array(70_000).fill(7), 1, false, false, 3));
  const expected = [
    ...fixtures.map(([, , p]) => p),
    { type: 'publish', topic: 'big', payload: new Uint8Array(70_000).fill(7), qos: 1, retain: false, dup: false, packetId: 3 } as Packet,
  ];

  it('parses many packets from one chunk', () => assert.deepEqual(parseAll(stream).map(show), expected.map(show)));

  it('reassembles packets split at every byte boundary', () => {
    const small = bytes(...fixtures.map(([, wire]) => wire));
    for (let cut = 1; cut < small.length; cut++) {
      const got = parseAll([small.subarray(0, cut), small.subarray(cut)]);
      assert.deepEqual(
        got.map(show),
        fixtures.map(([, , p]) => show(p)),
        `cut at ${cut}`,
      );
    }
  });

  it('reassembles packets fed one byte at a time', () => {
    const chunks = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    assert.deepEqual(parseAll(chunks).map(show), expected.map(show));
  });

  it('keeps a payload intact when the chunk it came in is reused', () => {
    const chunk = Uint8Array.from([0x30, 0x04, 0, 1, 0x74, 0x41]);
    const [p] = parseAll(chunk);
    chunk.fill(0);
    assert.deepEqual([...(p as { payload: Uint8Array }).payload], [0x41]);
  });

  it('stops when the callback returns false', () => {
    const parser = new PacketParser(1000);
    const seen: string[] = [];
    parser.feed(Uint8Array.from([0xc0, 0, 0xe0, 0, 0xc0, 0]), (p) => {
      seen.push(p.type);
      return p.type !== 'disconnect';
    });
    assert.deepEqual(seen, ['pingreq', 'disconnect']);
  });
});

describe('codec: malformed packets', () => {
  const bad: [string, number[], RegExp][] = [
    ['reserved type 0', [0x00, 0x00], /reserved packet type 0/],
    ['reserved type 15', [0xf0, 0x00], /reserved packet type 15/],
    ['SUBSCRIBE with flags 0 [MQTT-3.8.1-1]', [0x80, 0x06, 0, 1, 0, 1, 0x61, 0], /subscribe with invalid fixed header flags/],
    ['UNSUBSCRIBE with flags 0 [MQTT-3.10.1-1]', [0xa0, 0x05, 0, 1, 0, 1, 0x61], /unsubscribe with invalid fixed header flags/],
    ['PUBREL with flags 0 [MQTT-3.6.1-1]', [0x60, 2, 0, 1], /pubrel with invalid fixed header flags/],
    ['CONNECT with flags', [0x11, 0x00], /connect with invalid fixed header flags/],
    ['PINGREQ with flags', [0xc1, 0x00], /pingreq with invalid fixed header flags/],
    ['PUBLISH QoS 3 [MQTT-3.3.1-4]', [0x36, 0x05, 0, 1, 0x74, 0, 1], /both QoS bits/],
    ['PUBLISH QoS 0 with DUP [MQTT-3.3.1-2]', [0x38, 0x03, 0, 1, 0x74], /QoS 0 with DUP/],
    ['PUBLISH QoS 1 with packet id 0 [MQTT-2.3.1-1]', [0x32, 0x05, 0, 1, 0x74, 0, 0], /packet identifier 0/],
    ['PUBLISH with truncated topic', [0x30, 0x03, 0, 5, 0x74], /truncated/],
    ['PUBLISH topic not UTF-8 [MQTT-1.5.3-1]', [0x30, 0x04, 0, 2, 0xc3, 0x28], /not valid UTF-8/],
    ['PUBLISH topic with a surrogate [MQTT-1.5.3-1]', [0x30, 0x05, 0, 3, 0xed, 0xa0, 0x80], /not valid UTF-8/],
    ['PUBLISH topic with U+0000 [MQTT-1.5.3-2]', [0x30, 0x05, 0, 3, 0x61, 0x00, 0x62], /U\+0000/],
    ['SUBSCRIBE with packet id 0', [0x82, 0x06, 0, 0, 0, 1, 0x61, 0], /packet identifier 0/],
    ['SUBSCRIBE without filters [MQTT-3.8.3-3]', [0x82, 0x02, 0, 1], /without topic filters/],
    ['SUBSCRIBE with QoS 3 [MQTT-3-8.3-4]', [0x82, 0x06, 0, 1, 0, 1, 0x61, 3], /requested QoS/],
    ['SUBSCRIBE with reserved QoS bits [MQTT-3-8.3-4]', [0x82, 0x06, 0, 1, 0, 1, 0x61, 0x04], /requested QoS/],
    ['SUBSCRIBE missing its QoS byte', [0x82, 0x05, 0, 1, 0, 1, 0x61], /truncated/],
    ['UNSUBSCRIBE without filters [MQTT-3.10.3-2]', [0xa2, 0x02, 0, 1], /without topic filters/],
    ['PUBACK with 3 bytes', [0x40, 3, 0, 1, 0], /trailing bytes/],
    ['PUBACK with 1 byte', [0x40, 1, 0], /truncated/],
    ['PUBACK with packet id 0', [0x40, 2, 0, 0], /packet identifier 0/],
    ['PINGREQ with a body', [0xc0, 1, 0], /trailing bytes/],
    ['DISCONNECT with a body', [0xe0, 1, 0], /trailing bytes/],
    ['CONNECT with the reserved flag [MQTT-3.1.2-3]', [0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x03, 0, 0, 0, 1, 0x61], /reserved flag/],
    ['CONNECT with will QoS 3 [MQTT-3.1.2-14]', [0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x1e, 0, 0, 0, 1, 0x61], /will QoS 3/],
    ['CONNECT with will retain but no will [MQTT-3.1.2-15]', [0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x22, 0, 0, 0, 1, 0x61], /no will flag/],
    ['CONNECT with will QoS but no will [MQTT-3.1.2-13]', [0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x0a, 0, 0, 0, 1, 0x61], /no will flag/],
    [
      'CONNECT with password but no user name [MQTT-3.1.2-22]',
      [0x10, 0x0f, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x42, 0, 0, 0, 1, 0x61, 0, 0],
      /password but no user name/,
    ],
    ['CONNECT with user name flag but no user name', [0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x82, 0, 0, 0, 1, 0x61], /truncated/],
    ['CONNECT with trailing bytes', [0x10, 0x0e, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, 0, 1, 0x61, 0x62], /trailing bytes/],
    ['CONNECT with a client id that is not UTF-8', [0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, 0, 1, 0xff], /not valid UTF-8/],
  ];
  for (const [name, wire, pattern] of bad) it(`rejects ${name}`, () => rejects(wire, pattern));

  it('rejects a reserved packet type from its first byte', () => rejects([0xf0], /reserved packet type 15/));

  it('rejects a short topic with a multi-byte character that is not UTF-8', () => rejects([0x30, 0x05, 0, 3, 0x61, 0xc0, 0x80], /not valid UTF-8/));

  it('rejects a long topic with U+0000 past the fast path', () => {
    const topic = new Uint8Array(2000).fill(0x61);
    topic[1500] = 0;
    rejects(bytes([0x30, 0xd2, 0x0f, 0x07, 0xd0], topic), /U\+0000/);
  });

  it('decodes a long non-ASCII topic', () => {
    const topic = 'é'.repeat(3000);
    const [p] = parseAll(encodePublish(enc(topic), new Uint8Array(0), 0, false, false));
    assert.equal((p as { topic: string }).topic, topic);
  });

  it('throws only ProtocolError on random bytes, and never hangs', () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    let errors = 0;
    for (let run = 0; run < 3000; run++) {
      const input = Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256));
      try {
        parseAll([input.subarray(0, input.length >> 1), input.subarray(input.length >> 1)], 4096);
      } catch (e) {
        assert.ok(e instanceof ProtocolError, `run ${run}: ${String(e)} for ${[...input]}`);
        errors++;
      }
    }
    assert.ok(errors > 100, 'random input should mostly be rejected');
  });

  it('throws only ProtocolError on mutated valid packets', () => {
    let seed = 99;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (const [, wire] of fixtures) {
      for (let run = 0; run < 200; run++) {
        const input = Uint8Array.from(wire);
        input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
        try {
          parseAll(input);
        } catch (e) {
          assert.ok(e instanceof ProtocolError, `${String(e)} for ${[...input]}`);
        }
      }
    }
  });
});
