// Seeded mutation of valid MQTT packets of every type, MQTT 3.1.1 and 5.0: shared by the
// fuzz tests that feed the server's parser and core in process (test/modules/server/fuzz.test.ts)
// and by the fuzz storm that sends the same mutations over TCP to a running broker (storms.ts).
import type { Packet, ProtocolVersion } from '../../../modules/server/src/codec/packets.ts';
import { serialize } from '../../../modules/server/src/codec/serializer.ts';

const enc = (s: string) => Buffer.from(s, 'utf8');

/** mulberry32: small, seeded, good enough to pick mutations. */
export function rng(seed: number): { int(n: number): number; pick<T>(list: readonly T[]): T; chance(p: number): boolean } {
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
export type Random = ReturnType<typeof rng>;

export const connect = (version: ProtocolVersion, clientId: string): Packet => ({
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
export function corpus(version: ProtocolVersion): Packet[] {
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
export function mutate(bytes: Uint8Array, r: Random): Uint8Array {
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
export function chunks(bytes: Uint8Array, r: Random): Uint8Array[] {
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

export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Every corpus packet of `version`, serialized: what `mutate` starts from. */
export const corpusBytes = (version: ProtocolVersion): Uint8Array[] => corpus(version).map((p) => serialize(p, version));

/**
 * What one fuzzed connection sends: usually a valid CONNECT first (so that the packets after
 * it reach the handlers), then one to five packets, most of them mutated.
 */
export function fuzzSequence(r: Random, version: ProtocolVersion, packets: Uint8Array[], clientId: string): { connect?: Uint8Array; rest: Uint8Array } {
  const connectBytes = r.chance(0.85) ? serialize(connect(version, clientId), version) : undefined;
  const rest: Uint8Array[] = [];
  const n = 1 + r.int(5);
  for (let k = 0; k < n; k++) rest.push(r.chance(0.7) ? mutate(r.pick(packets), r) : r.pick(packets));
  return { connect: connectBytes, rest: Buffer.concat(rest) };
}
