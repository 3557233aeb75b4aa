// The MQTT 5.0 layouts of the codec: hand-written wire fixtures, every property of the
// table through serializer and parser, and what makes a property list malformed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Packet, ProtocolVersion } from '../../../modules/server/src/codec/packets.ts';
import { PacketParser } from '../../../modules/server/src/codec/parser.ts';
import { PROPERTY_DEFS, type Properties, type PropertyDef, type PropertyPlace } from '../../../modules/server/src/codec/properties.ts';
import { REASON } from '../../../modules/server/src/codec/reason-codes.ts';
import { serialize } from '../../../modules/server/src/codec/serializer.ts';
import { ProtocolError } from '../../../modules/server/src/errors.ts';
import { enc, show } from './harness.ts';

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const str = (s: string) => [0, s.length, ...ascii(s)];

function parse(wire: number[] | Uint8Array, version: ProtocolVersion = 5): Packet[] {
  const parser = new PacketParser(1 << 20);
  parser.version = version;
  const out: Packet[] = [];
  parser.feed(Uint8Array.from(wire), (p) => {
    out.push(p);
    return true;
  });
  return out;
}

function rejects(wire: number[], reasonCode: number, pattern: RegExp, version: ProtocolVersion = 5): void {
  assert.throws(
    () => parse(wire, version),
    (e: unknown) => {
      assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.equal(e.reasonCode, reasonCode, `reason code of "${e.message}"`);
      return true;
    },
  );
}

const connectBody = [...str('MQTT'), 5, 0x02, 0, 60, 8, 0x11, 0, 0, 0, 120, 0x21, 0, 20, ...str('abc')];
const publishBody = [...str('a/b'), 0, 10, 11, 0x03, ...str('t'), 0x26, ...str('k'), ...str('v'), ...ascii('hi')];

// [name, wire, packet, round trips through serialize]
const fixtures: [string, number[], Packet, boolean][] = [
  [
    'CONNECT with session expiry and receive maximum',
    [0x10, connectBody.length, ...connectBody],
    {
      type: 'connect',
      protocolName: 'MQTT',
      protocolLevel: 5,
      supported: true,
      clean: true,
      keepalive: 60,
      clientId: 'abc',
      properties: { sessionExpiryInterval: 120, receiveMaximum: 20 },
    },
    true,
  ],
  ['CONNACK without properties', [0x20, 3, 0, 0, 0], { type: 'connack', sessionPresent: false, returnCode: 0 }, true],
  [
    'PUBLISH QoS 1 with content type and a user property',
    [0x32, publishBody.length, ...publishBody],
    {
      type: 'publish',
      topic: 'a/b',
      payload: enc('hi'),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 10,
      properties: { contentType: 't', userProperties: [['k', 'v']] },
    },
    true,
  ],
  ['PUBACK in its short form (reason 0 left out)', [0x40, 2, 0, 7], { type: 'puback', packetId: 7, reasonCode: 0 }, true],
  ['PUBACK with reason 0x10 and no properties', [0x40, 3, 0, 7, 0x10], { type: 'puback', packetId: 7, reasonCode: 0x10 }, true],
  [
    'PUBREC with reason 0x87 and a reason string',
    [0x50, 8, 0, 1, 0x87, 4, 0x1f, ...str('x')],
    { type: 'pubrec', packetId: 1, reasonCode: 0x87, properties: { reasonString: 'x' } },
    true,
  ],
  [
    'SUBSCRIBE with a subscription identifier and all options',
    [0x82, 11, 0, 1, 2, 0x0b, 5, ...str('a/#'), 0x2d],
    {
      type: 'subscribe',
      packetId: 1,
      subscriptions: [{ filter: 'a/#', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 }],
      properties: { subscriptionIdentifiers: [5] },
    },
    true,
  ],
  ['SUBACK', [0x90, 4, 0, 1, 0, 0x87], { type: 'suback', packetId: 1, returnCodes: [0x87] }, true],
  ['UNSUBSCRIBE', [0xa2, 8, 0, 2, 0, ...str('a/#')], { type: 'unsubscribe', packetId: 2, filters: ['a/#'] }, true],
  ['UNSUBACK', [0xb0, 5, 0, 2, 0, 0x00, 0x11], { type: 'unsuback', packetId: 2, reasonCodes: [0, 0x11] }, true],
  ['DISCONNECT with no body (normal disconnection)', [0xe0, 0], { type: 'disconnect', reasonCode: 0 }, true],
  ['DISCONNECT 0x8E', [0xe0, 1, 0x8e], { type: 'disconnect', reasonCode: 0x8e }, true],
  [
    'DISCONNECT with a session expiry interval',
    [0xe0, 7, 0, 5, 0x11, 0, 0, 0, 9],
    { type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 9 } },
    true,
  ],
  ['AUTH with no body', [0xf0, 0], { type: 'auth', reasonCode: 0 }, false],
];

describe('MQTT 5.0 codec: wire fixtures', () => {
  for (const [name, wire, packet, roundTrips] of fixtures) {
    it(`parses ${name}`, () => assert.deepEqual(parse(wire).map(show), [show(packet)]));
    if (roundTrips) it(`serializes ${name}`, () => assert.deepEqual([...serialize(packet, 5)], wire));
  }
});

/** A packet of the kind `place` names, carrying `properties`. */
function packetWith(place: PropertyPlace, properties: Properties): Packet {
  switch (place) {
    case 'connect':
      return { type: 'connect', protocolName: 'MQTT', protocolLevel: 5, supported: true, clean: true, keepalive: 0, clientId: 'c', properties };
    case 'will':
      return {
        type: 'connect',
        protocolName: 'MQTT',
        protocolLevel: 5,
        supported: true,
        clean: true,
        keepalive: 0,
        clientId: 'c',
        will: { topic: 'w', payload: enc('x'), qos: 1, retain: false, properties },
      };
    case 'connack':
      return { type: 'connack', sessionPresent: false, returnCode: 0, properties };
    case 'publish':
      return { type: 'publish', topic: 't', payload: enc('p'), qos: 1, retain: false, dup: false, packetId: 1, properties };
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return { type: place, packetId: 1, reasonCode: 0x80, properties };
    case 'subscribe':
      return {
        type: 'subscribe',
        packetId: 1,
        subscriptions: [{ filter: 'a', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
        properties,
      };
    case 'suback':
      return { type: 'suback', packetId: 1, returnCodes: [0], properties };
    case 'unsubscribe':
      return { type: 'unsubscribe', packetId: 1, filters: ['a'], properties };
    case 'unsuback':
      return { type: 'unsuback', packetId: 1, reasonCodes: [0], properties };
    case 'disconnect':
      return { type: 'disconnect', reasonCode: 0x80, properties };
    case 'auth':
      return { type: 'auth', reasonCode: 0x18, properties };
  }
}

function sampleValue(def: PropertyDef, place: PropertyPlace): unknown {
  switch (def.type) {
    case 'byte':
      return 1;
    case 'u16':
      return 300;
    case 'u32':
      return 70_000;
    case 'varint':
      // Several subscription identifiers only where they may repeat (PUBLISH).
      return def.repeatable?.includes(place) ? [1, 200_000] : [200_000];
    case 'string':
      return 'ü-x';
    case 'binary':
      return Uint8Array.of(0, 255);
    case 'pair':
      return [
        ['a', 'b'],
        ['a', 'c'],
      ];
  }
}

describe('MQTT 5.0 codec: the property table', () => {
  for (const def of PROPERTY_DEFS) {
    for (const place of def.places) {
      it(`${def.name} (0x${def.id.toString(16)}) survives serialize and parse in ${place}`, () => {
        const properties = { [def.name]: sampleValue(def, place) } as Properties;
        const packet = packetWith(place, properties);
        assert.deepEqual(parse(serialize(packet, 5)).map(show), [show(packet)]);
      });
    }
  }
});

describe('MQTT 5.0 codec: malformed properties and packets', () => {
  const puback = (props: number[]) => [0x40, 4 + props.length, 0, 1, 0x80, props.length, ...props];
  it('an unknown property id is a malformed packet (0x81)', () => rejects(puback([0x7f, 0]), REASON.malformedPacket, /unknown property id 127/));
  it('a property not allowed in the packet is a malformed packet (0x81)', () =>
    rejects(puback([0x11, 0, 0, 0, 1]), REASON.malformedPacket, /sessionExpiryInterval is not allowed in puback/));
  it('a property twice is a protocol error (0x82)', () =>
    rejects(puback([0x1f, ...str('a'), 0x1f, ...str('b')]), REASON.protocolError, /reasonString appears twice/));
  it('user properties may repeat', () =>
    assert.deepEqual((parse(puback([0x26, ...str('a'), ...str('1'), 0x26, ...str('a'), ...str('2')]))[0] as { properties: Properties }).properties, {
      userProperties: [
        ['a', '1'],
        ['a', '2'],
      ],
    }));
  it('a subscription identifier twice in SUBSCRIBE is a protocol error', () =>
    rejects([0x82, 10, 0, 1, 4, 0x0b, 1, 0x0b, 2, ...str('a').slice(0, 3), 0], REASON.protocolError, /subscriptionIdentifiers appears twice/));
  it('a subscription identifier of 0 is a protocol error', () => rejects([0x82, 8, 0, 1, 2, 0x0b, 0, ...str('a'), 0], REASON.protocolError, /must not be 0/));
  it('a receive maximum of 0 is a protocol error', () => {
    const body = [...str('MQTT'), 5, 0x02, 0, 0, 3, 0x21, 0, 0, ...str('c')];
    rejects([0x10, body.length, ...body], REASON.protocolError, /receiveMaximum must not be 0/);
  });
  it('a payload format indicator other than 0 or 1 is a protocol error', () =>
    rejects([0x30, 6, ...str('t'), 2, 0x01, 2], REASON.protocolError, /payloadFormatIndicator must be 0 or 1/));
  it('a variable byte integer of five bytes is malformed', () =>
    rejects([0x30, 8, ...str('t'), 0xff, 0xff, 0xff, 0xff, 0x01], REASON.malformedPacket, /longer than 4 bytes/));
  it('a variable byte integer not in its shortest form is malformed', () =>
    rejects([0x30, 5, ...str('t'), 0x80, 0x00], REASON.malformedPacket, /shortest form/));
  it('a property list longer than the packet is malformed', () => rejects([0x30, 5, ...str('t'), 9, 0x01], REASON.malformedPacket, /truncated/));
  it('a property value past the end of its list is malformed', () => rejects([0x30, 9, ...str('t'), 2, 0x02, 0, 0, 0, 1], REASON.malformedPacket, /truncated/));
  it('ill-formed UTF-8 in a user property is malformed', () => rejects(puback([0x26, 0, 1, 0xc3, ...str('v')]), REASON.malformedPacket, /not valid UTF-8/));
  it('U+0000 in a content type is malformed', () => rejects([0x30, 9, ...str('t'), 4, 0x03, 0, 1, 0, 0x78], REASON.malformedPacket, /U\+0000/));
  it('reserved subscription option bits are malformed [MQTT-3.8.3-5]', () =>
    rejects([0x82, 7, 0, 1, 0, ...str('a'), 0x41], REASON.malformedPacket, /reserved option bits/));
  it('retain handling 3 is a protocol error', () => rejects([0x82, 7, 0, 1, 0, ...str('a'), 0x30], REASON.protocolError, /retain handling 3/));
  it('AUTH (type 15) is reserved in 3.1.1 and read in 5.0', () => {
    rejects([0xf0, 0], REASON.malformedPacket, /reserved packet type 15/, 4);
    assert.equal(parse([0xf0, 0])[0].type, 'auth');
  });
  it('a 5.0 CONNECT switches the parser to 5.0 for the packets after it', () => {
    const parser = new PacketParser(1 << 20);
    const out: Packet[] = [];
    parser.feed(Uint8Array.from([0x10, connectBody.length, ...connectBody, 0xe0, 1, 0x04]), (p) => {
      out.push(p);
      return true;
    });
    assert.equal(parser.version, 5);
    assert.deepEqual(out[1], { type: 'disconnect', reasonCode: 4 });
  });
  it('a 5.0 CONNECT malformed after its level still switches the parser to 5.0 (for a 5.0 CONNACK)', () => {
    const parser = new PacketParser(1 << 20);
    assert.throws(() => parser.feed(Uint8Array.from([0x10, 8, ...str('MQTT'), 5, 0x01]), () => true), ProtocolError);
    assert.equal(parser.version, 5);
  });
});
