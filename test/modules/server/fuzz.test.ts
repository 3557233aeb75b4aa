// Seeded mutation fuzzing of every packet type, MQTT 3.1.1 and 5.0, against the
// parser alone and against the whole core through the harness. Whatever arrives,
// the only failure allowed is a ProtocolError that closes that one connection.
//
//   FUZZ_SEED=<n>        seed (default below); a failure names the seed and iteration
//   FUZZ_ITERATIONS=<n>  mutated sequences per protocol version (default 3000; the
//                       parser alone gets four times as many)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Packet, ProtocolVersion } from '../../../modules/server/src/codec/packets.ts';
import { PacketParser } from '../../../modules/server/src/codec/parser.ts';
import { serialize } from '../../../modules/server/src/codec/serializer.ts';
import { ProtocolError } from '../../../modules/server/src/errors.ts';
import { enc, Harness, publishes } from './harness.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);

/** mulberry32: small, seeded, good enough to pick mutations. */
function rng(seed: number): { int(n: number): number; pick<T>(list: readonly T[]): T; chance(p: number): boolean } {
  let s = seed | 0;
  const next = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}
type Random = ReturnType<typeof rng>;

const connect = (version: ProtocolVersion, clientId: string): Packet => ({
  type: 'connect',
  protocolName: 'MQTT',
  protocolLevel: version,
  supported: true,
  clean: false,
  keepalive: 30,
  clientId,
  username: 'user',
  password: enc('pw'),
  will: {
    topic: 'will/topic',
    payload: enc('gone'),
    qos: 1,
    retain: true,
    ...(version === 5 ? { properties: { willDelayInterval: 1, messageExpiryInterval: 60, contentType: 'text', userProperties: [['k', 'v']] } } : {}),
  },
  ...(version === 5
    ? { properties: { sessionExpiryInterval: 30, receiveMaximum: 5, maximumPacketSize: 4096, topicAliasMaximum: 4, userProperties: [['a', 'b']] } }
    : {}),
});

/** Valid packets of every type (server-to-client ones too: a client may send anything). */
function corpus(version: ProtocolVersion): Packet[] {
  const v5 = version === 5;
  const props = v5 ? { reasonString: 'r', userProperties: [['x', 'y']] as [string, string][] } : undefined;
  const publishProps = v5
    ? {
        properties: {
          payloadFormatIndicator: 1,
          messageExpiryInterval: 10,
          topicAlias: 2,
          responseTopic: 'reply/to',
          correlationData: Uint8Array.of(1, 2),
          contentType: 'application/json',
          userProperties: [['u', 'v']] as [string, string][],
        },
      }
    : {};
  return [
    connect(version, 'fuzzed'),
    { type: 'connack', sessionPresent: true, returnCode: 0, ...(v5 ? { properties: { receiveMaximum: 3 } } : {}) },
    { type: 'publish', topic: 'a/b', payload: enc('{"x":1}'), qos: 0, retain: false, dup: false, ...publishProps },
    { type: 'publish', topic: 'a/b/c', payload: enc('one'), qos: 1, retain: true, dup: false, packetId: 7, ...publishProps },
    { type: 'publish', topic: 'x', payload: enc('two'), qos: 2, retain: false, dup: true, packetId: 8 },
    { type: 'puback', packetId: 1, ...(v5 ? { reasonCode: 0x10, properties: props } : {}) },
    { type: 'pubrec', packetId: 2, ...(v5 ? { reasonCode: 0, properties: props } : {}) },
    { type: 'pubrel', packetId: 8 },
    { type: 'pubcomp', packetId: 3, ...(v5 ? { reasonCode: 0x92 } : {}) },
    {
      type: 'subscribe',
      packetId: 4,
      subscriptions: [
        { filter: 'a/#', qos: 2, ...(v5 ? { noLocal: true, retainAsPublished: true, retainHandling: 1 as const } : {}) },
        { filter: '$share/g/+/b', qos: 1 },
        { filter: '+', qos: 0 },
      ],
      ...(v5 ? { properties: { subscriptionIdentifiers: [9], userProperties: [['s', 't']] as [string, string][] } } : {}),
    },
    { type: 'suback', packetId: 4, returnCodes: [0, 1, 0x80] },
    { type: 'unsubscribe', packetId: 5, filters: ['a/#', 'nope'] },
    { type: 'unsuback', packetId: 5, ...(v5 ? { reasonCodes: [0, 0x11] } : {}) },
    { type: 'pingreq' },
    { type: 'pingresp' },
    ...(v5 ? ([{ type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'm' } }] as Packet[]) : []),
    { type: 'disconnect', ...(v5 ? { reasonCode: 4, properties: { sessionExpiryInterval: 0, reasonString: 'bye' } } : {}) },
  ];
}

const INTERESTING = [0, 1, 2, 3, 0x7f, 0x80, 0xc0, 0xff, 0x0b, 0x26, 0x23, 0x11];

/** One to four mutations of `bytes`: bit flips, byte sets, inserts, deletes, duplicates, truncation. */
function mutate(bytes: Uint8Array, r: Random): Uint8Array {
  let b = [...bytes];
  const rounds = 1 + r.int(4);
  for (let k = 0; k < rounds; k++) {
    const at = r.int(Math.max(1, b.length));
    switch (r.int(7)) {
      case 0:
        if (b.length > 0) b[at] ^= 1 << r.int(8);
        break;
      case 1:
        if (b.length > 0) b[at] = r.chance(0.5) ? r.pick(INTERESTING) : r.int(256);
        break;
      case 2:
        b.splice(at, 0, ...Array.from({ length: 1 + r.int(8) }, () => (r.chance(0.5) ? r.pick(INTERESTING) : r.int(256))));
        break;
      case 3:
        b.splice(at, 1 + r.int(6));
        break;
      case 4: {
        const len = 1 + r.int(8);
        b.splice(at, 0, ...b.slice(at, at + len));
        break;
      }
      case 5:
        b = b.slice(0, at);
        break;
      case 6:
        // The remaining length: often the most interesting lie.
        if (b.length > 1) b[1] = r.pick([0, 1, 0x7f, 0x80, 0xff, b[1] + 1, Math.max(0, b[1] - 1)]);
        break;
    }
  }
  return Uint8Array.from(b);
}

/** `bytes` cut into one to four chunks, as separate data events. */
function chunks(bytes: Uint8Array, r: Random): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  const n = 1 + r.int(4);
  for (let i = 1; i < n && at < bytes.length; i++) {
    const end = at + r.int(bytes.length - at + 1);
    out.push(bytes.subarray(at, end));
    at = end;
  }
  out.push(bytes.subarray(at));
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

for (const version of [4, 5] as const) {
  describe(`fuzz: mutated MQTT ${version === 5 ? '5.0' : '3.1.1'} packets (FUZZ_SEED=${SEED}, ${ITERATIONS} iterations)`, () => {
    const packets = corpus(version).map((p) => serialize(p, version));

    it('the parser throws nothing but ProtocolError, whatever the bytes', () => {
      const r = rng(SEED ^ version);
      for (let i = 0; i < ITERATIONS * 4; i++) {
        const input = mutate(r.pick(packets), r);
        const parser = new PacketParser(1 << 16);
        parser.version = version;
        try {
          for (const c of chunks(input, r)) parser.feed(c, () => true);
        } catch (e) {
          if (!(e instanceof ProtocolError)) assert.fail(`FUZZ_SEED=${SEED} iteration ${i}: ${String(e)} on ${hex(input)}`);
        }
        parser.dispose();
      }
    });

    it('the core closes at most the fuzzed connection: no internal error, a bystander keeps working, budgets balance', () => {
      const r = rng(SEED + version * 7919);
      const h = new Harness({ 'max-packet-size': 1 << 16, 'retained-work-per-call': 50 });
      const bystander = h.connect('bystander');
      bystander.subscribe('#', 1);
      const witness = h.connect('witness');
      let checked = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        const c = h.open({ version });
        // Usually a valid CONNECT first, so that the packets after it reach the handlers.
        const sequence: Uint8Array[] = [];
        if (r.chance(0.85)) sequence.push(serialize(connect(version, `f${i % 50}`), version));
        const n = 1 + r.int(5);
        for (let k = 0; k < n; k++) sequence.push(r.chance(0.7) ? mutate(r.pick(packets), r) : r.pick(packets));
        const input = Uint8Array.from(sequence.flatMap((s) => [...s]));
        c.write(...chunks(input, r));
        if (r.chance(0.1)) h.advance(1000 + r.int(30_000));
        h.settle();
        const errors = h.platform.logs.filter((l) => l.level === 'error');
        if (errors.length > 0) assert.fail(`FUZZ_SEED=${SEED} iteration ${i}: ${errors[0].message} on ${hex(input)}`);
        if (r.chance(0.5)) c.drop();
        if (i % 50 === 49) {
          // Everyone else is unaffected: a message still goes from one client to another.
          bystander.packets();
          witness.publish('alive', `${i}`);
          const got = publishes(bystander.packets()).filter(([t]) => t === 'alive');
          assert.deepEqual(got, [['alive', `${i}`, 0, false, false]], `FUZZ_SEED=${SEED} iteration ${i}`);
          checked++;
        }
      }
      // What partial packets hold is exactly what the open connections' parsers hold.
      let held = 0;
      for (const conn of h.server.connections.values()) held += conn.parser.buffered;
      assert.equal(h.server.partialBudget.used, held);
      assert.ok(checked > 0);
      assert.equal(bystander.closedByServer, false);
    });
  });
}
