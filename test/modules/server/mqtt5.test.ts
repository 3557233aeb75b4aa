// MQTT 5.0 behaviour of the server core, one group per feature, driven through the
// plain-Node harness with packets as bytes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Packet, PublishPacket, Subscription } from '../../../modules/server/src/codec/packets.ts';
import type { Properties } from '../../../modules/server/src/codec/properties.ts';
import { REASON } from '../../../modules/server/src/codec/reason-codes.ts';
import { type Client, dec, enc, Harness, publishes, will } from './harness.ts';

const publishPackets = (packets: Packet[]) => packets.filter((p): p is PublishPacket => p.type === 'publish');
/** PUBLISH packets as [topic, payload, properties] (properties left out when there are none). */
const received = (c: Client) => publishPackets(c.packets()).map((p) => (p.properties ? [p.topic, dec(p.payload), p.properties] : [p.topic, dec(p.payload)]));

function subscribe(c: Client, subscriptions: Subscription[], properties?: Properties, packetId = 1): Packet {
  c.send({ type: 'subscribe', packetId, subscriptions, ...(properties ? { properties } : {}) });
  const p = c.packets();
  assert.equal(p[0]?.type, 'suback', JSON.stringify(p));
  c.pendingAfterSuback = p.slice(1);
  return p[0];
}

const sub = (filter: string, qos: 0 | 1 | 2 = 0, o: Partial<Subscription> = {}): Subscription => ({ filter, qos, ...o });

describe('MQTT 5.0 CONNECT and CONNACK', () => {
  it('accepts a 5.0 client and tells it the server limits: receive maximum, maximum packet size, topic alias maximum', () => {
    const h = new Harness({ 'receive-maximum': 10, 'max-packet-size': 1000, 'topic-alias-maximum': 5 });
    const c = h.open({ version: 5 });
    assert.deepEqual(c.connect('a'), {
      type: 'connack',
      sessionPresent: false,
      returnCode: 0,
      properties: { receiveMaximum: 10, maximumPacketSize: 1003, topicAliasMaximum: 5 },
    });
  });

  it('assigns a client id to an empty one and returns it (clean start 0 is allowed in 5.0)', () => {
    const h = new Harness();
    const c = h.open({ version: 5 });
    const ack = c.connect('', { clean: false });
    assert.equal(ack.type, 'connack');
    const id = (ack as { properties?: Properties }).properties?.assignedClientIdentifier;
    assert.match(id ?? '', /^edgehost-/);
    assert.ok(h.server.sessions.has(id!));
  });

  it('caps the session expiry at max-session-expiry-s and says so in CONNACK', () => {
    const h = new Harness({ 'max-session-expiry-s': 60 });
    const c = h.open({ version: 5 });
    const ack = c.connect('a', { properties: { sessionExpiryInterval: 0xffffffff } }) as { properties?: Properties };
    assert.equal(ack.properties?.sessionExpiryInterval, 60);
    assert.equal(h.server.sessions.get('a')?.expirySeconds, 60);
  });

  it('refuses enhanced authentication with 0x8C', () => {
    const h = new Harness();
    const c = h.open({ version: 5 });
    const ack = c.connect('a', { properties: { authenticationMethod: 'SCRAM-SHA-1' } });
    assert.equal((ack as { returnCode: number }).returnCode, REASON.badAuthenticationMethod);
    assert.ok(c.closedByServer);
  });

  it('answers a malformed 5.0 CONNECT with CONNACK 0x81 and closes', () => {
    const h = new Harness();
    const c = h.open({ version: 5 });
    // Protocol name, level 5, then the reserved flag bit set.
    c.write(Uint8Array.from([0x10, 10, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x01, 0, 0]));
    const [ack] = c.packets();
    assert.equal(ack.type, 'connack');
    assert.equal((ack as { returnCode: number }).returnCode, REASON.malformedPacket);
    assert.ok(c.closedByServer);
  });

  it('refuses bad credentials with 0x86 (5.0) where 3.1.1 gets 0x04', () => {
    const h = new Harness({ username: 'u', password: 'p' });
    assert.equal((h.open({ version: 5 }).connect('a', { username: 'u', password: enc('x') }) as { returnCode: number }).returnCode, 0x86);
    assert.equal((h.open().connect('b', { username: 'u', password: enc('x') }) as { returnCode: number }).returnCode, 0x04);
  });
});

describe('MQTT 5.0 reason codes on acks', () => {
  it('PUBACK and PUBREC say 0x87 for a publish the ACL denies; the message goes nowhere', () => {
    const h = new Harness({ acl: { publish: ['ok/#'], subscribe: ['#'] } });
    const s = h.connect5('s');
    subscribe(s, [sub('#')]);
    const c = h.connect5('c');
    c.publish('secret', 'x', 1, { packetId: 3 });
    c.publish('secret', 'x', 2, { packetId: 4 });
    c.publish('ok/1', 'y', 1, { packetId: 5 });
    assert.deepEqual(c.packets(), [
      { type: 'puback', packetId: 3, reasonCode: 0x87 },
      { type: 'pubrec', packetId: 4, reasonCode: 0x87 },
      { type: 'puback', packetId: 5, reasonCode: 0 },
    ]);
    assert.deepEqual(received(s), [['ok/1', 'y']]);
    // A refused QoS 2 message is not awaiting PUBREL: its id is free.
    assert.equal(h.server.sessions.get('c')?.awaitingRelease.size, 0);
  });

  it('SUBACK gives a code per filter: granted QoS, 0x8F invalid, 0x87 denied, 0x97 over quota', () => {
    const h = new Harness({ acl: { publish: ['#'], subscribe: ['a/#', 'b'] }, 'max-subscriptions-per-client': 2 });
    const c = h.connect5('c');
    const ack = subscribe(c, [sub('a/1', 1), sub('a/#/x'), sub('secret', 2), sub('b', 2), sub('a/2')]);
    assert.deepEqual((ack as { returnCodes: number[] }).returnCodes, [1, 0x8f, 0x87, 2, 0x97]);
  });

  it('UNSUBACK says 0x11 for a filter that had no subscription', () => {
    const h = new Harness();
    const c = h.connect5('c');
    subscribe(c, [sub('a')]);
    c.send({ type: 'unsubscribe', packetId: 2, filters: ['a', 'b'] });
    assert.deepEqual(c.packets(), [{ type: 'unsuback', packetId: 2, reasonCodes: [0, 0x11] }]);
  });

  it('PUBCOMP says 0x92 for a PUBREL of an unknown packet id', () => {
    const h = new Harness();
    const c = h.connect5('c');
    c.send({ type: 'pubrel', packetId: 9 });
    assert.deepEqual(c.packets(), [{ type: 'pubcomp', packetId: 9, reasonCode: 0x92 }]);
  });
});

describe('MQTT 5.0 session expiry', () => {
  it('a session with an expiry outlives its connection, queues QoS 1, and ends when the interval has passed', () => {
    const h = new Harness();
    const c = h.connect5('a', { properties: { sessionExpiryInterval: 10 } });
    subscribe(c, [sub('t', 1)]);
    c.disconnect();
    h.connect5('p').publish('t', 'while away', 1);
    h.advance(5000);
    const again = h.open({ version: 5 });
    const ack = again.connect('a', { clean: false, properties: { sessionExpiryInterval: 10 } });
    assert.equal((ack as { sessionPresent: boolean }).sessionPresent, true);
    assert.deepEqual(received(again), [['t', 'while away']]);
    again.disconnect();
    h.advance(10_500);
    assert.equal(h.server.sessions.has('a'), false, 'expired 10 s after the last disconnect');
    const third = h.open({ version: 5 });
    assert.equal((third.connect('a', { clean: false }) as { sessionPresent: boolean }).sessionPresent, false);
  });

  it('a session without an expiry (0) ends with its connection', () => {
    const h = new Harness();
    const c = h.connect5('a');
    subscribe(c, [sub('t', 1)]);
    c.drop();
    assert.equal(h.server.sessions.has('a'), false);
    assert.deepEqual([...h.platform.busFilters], []);
  });

  it('DISCONNECT may change the expiry, but not from 0 to more: that is a protocol error (0x82)', () => {
    const h = new Harness();
    const kept = h.connect5('kept', { properties: { sessionExpiryInterval: 5 } });
    kept.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 100 } });
    assert.equal(h.server.sessions.get('kept')?.expirySeconds, 100);
    const zero = h.connect5('zero');
    zero.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 100 } });
    assert.deepEqual(zero.packets(), [
      {
        type: 'disconnect',
        reasonCode: 0x82,
        properties: { reasonString: 'DISCONNECT sets a session expiry interval after CONNECT set none (protocolError (0x82))' },
      },
    ]);
  });

  it('a 3.1.1 clean-session-0 session lasts max-session-expiry-s after its connection', () => {
    const h = new Harness({ 'max-session-expiry-s': 30 });
    h.connect('old', { clean: false }).disconnect();
    h.advance(29_000);
    assert.ok(h.server.sessions.has('old'));
    h.advance(2000);
    assert.equal(h.server.sessions.has('old'), false);
  });
});

describe('MQTT 5.0 message expiry', () => {
  it('a queued message that expires before delivery is dropped; a live one carries what is left of its interval', () => {
    const h = new Harness();
    const s = h.connect5('s', { properties: { sessionExpiryInterval: 100 } });
    subscribe(s, [sub('t', 1)]);
    s.disconnect();
    const p = h.connect5('p');
    p.publish('t', 'short', 1, { packetId: 1, properties: { messageExpiryInterval: 2 } });
    p.publish('t', 'long', 1, { packetId: 2, properties: { messageExpiryInterval: 60 } });
    h.advance(3000);
    const again = h.open({ version: 5 });
    again.connect('s', { clean: false, properties: { sessionExpiryInterval: 100 } });
    // [MQTT-3.3.2-5] the expired one is gone; [MQTT-3.3.2-6] the other's interval counts down.
    assert.deepEqual(received(again), [['t', 'long', { messageExpiryInterval: 57 }]]);
  });

  it('an expired retained message is no longer sent to new subscribers', () => {
    const h = new Harness();
    h.connect5('p').publish('r', 'soon stale', 0, { retain: true, properties: { messageExpiryInterval: 5 } });
    const early = h.connect5('early');
    subscribe(early, [sub('r')]);
    assert.deepEqual(publishes(early.pendingAfterSuback), [['r', 'soon stale', 0, true, false]]);
    h.advance(6000);
    const late = h.connect5('late');
    subscribe(late, [sub('r')]);
    assert.deepEqual(late.pendingAfterSuback, []);
    assert.equal(h.server.retained.size, 0);
  });
});

describe('MQTT 5.0 topic aliases', () => {
  it('a topic set up with an alias is used by later PUBLISH packets with an empty topic', () => {
    const h = new Harness();
    const s = h.connect5('s');
    subscribe(s, [sub('long/topic/name')]);
    const c = h.connect5('c');
    c.publish('long/topic/name', 'one', 0, { properties: { topicAlias: 3 } });
    c.publish('', 'two', 0, { properties: { topicAlias: 3 } });
    // The alias belongs to the publisher's connection: subscribers get the topic (aliases are not forwarded).
    assert.deepEqual(received(s), [
      ['long/topic/name', 'one'],
      ['long/topic/name', 'two'],
    ]);
  });

  for (const [alias, code, why] of [
    [0, REASON.topicAliasInvalid, 'alias 0'],
    [33, REASON.topicAliasInvalid, 'an alias above the topic alias maximum'],
  ] as const) {
    it(`${why} gets DISCONNECT 0x94 [MQTT-3.3.2-8] [MQTT-3.3.2-9]`, () => {
      const h = new Harness();
      const c = h.connect5('c');
      c.publish('t', 'x', 0, { properties: { topicAlias: alias } });
      assert.equal((c.packets()[0] as { reasonCode?: number }).reasonCode, code);
      assert.ok(c.closedByServer);
    });
  }

  it('an alias that was never set up is a protocol error (0x82)', () => {
    const h = new Harness();
    const c = h.connect5('c');
    c.publish('', 'x', 0, { properties: { topicAlias: 1 } });
    assert.equal((c.packets()[0] as { reasonCode?: number }).reasonCode, REASON.protocolError);
  });
});

describe('MQTT 5.0 shared subscriptions', () => {
  it('each message goes to one member of a group, round robin over the connected ones; each group gets every message', () => {
    const h = new Harness();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => h.connect5(id, { properties: { sessionExpiryInterval: 60 } }));
    for (const m of [a, b, c]) subscribe(m, [sub('$share/workers/jobs/+', 1)]);
    const other = h.connect5('other');
    subscribe(other, [sub('$share/audit/jobs/#')]);
    c.disconnect(); // its session stays, offline: skipped while others are online
    const p = h.connect5('p');
    for (let i = 0; i < 4; i++) p.publish(`jobs/${i}`, `${i}`, 1, { packetId: i + 1 });
    assert.deepEqual(
      received(a).map(([, payload]) => payload),
      ['0', '2'],
    );
    assert.deepEqual(
      received(b).map(([, payload]) => payload),
      ['1', '3'],
    );
    assert.deepEqual(
      received(other).map(([, payload]) => payload),
      ['0', '1', '2', '3'],
    );
    assert.deepEqual([...h.platform.busFilters].sort(), ['jobs/#', 'jobs/+'], 'the bus is subscribed to the inner filters');
  });

  it('a shared subscription gets no retained messages when it is made', () => {
    const h = new Harness();
    h.connect5('p').publish('jobs/1', 'kept', 0, { retain: true });
    const s = h.connect5('s');
    subscribe(s, [sub('$share/g/jobs/+')]);
    assert.deepEqual(s.pendingAfterSuback, []);
  });

  it('no-local on a shared subscription is a protocol error [MQTT-3.8.3-4]', () => {
    const h = new Harness();
    const s = h.connect5('s');
    s.send({ type: 'subscribe', packetId: 1, subscriptions: [sub('$share/g/x', 0, { noLocal: true })] });
    assert.equal((s.packets()[0] as { reasonCode?: number }).reasonCode, REASON.protocolError);
  });

  it('an invalid share name gets SUBACK 0x8F', () => {
    const h = new Harness();
    assert.deepEqual((subscribe(h.connect5('s'), [sub('$share/g+/x'), sub('$share/g')]) as { returnCodes: number[] }).returnCodes, [0x8f, 0x8f]);
  });
});

describe('MQTT 5.0 subscription options', () => {
  it("no-local: a client does not get its own messages on that subscription, others' it does [MQTT-3.8.3-3]", () => {
    const h = new Harness();
    const c = h.connect5('c');
    subscribe(c, [sub('t', 0, { noLocal: true })]);
    c.publish('t', 'mine');
    h.connect5('other').publish('t', 'theirs');
    assert.deepEqual(received(c), [['t', 'theirs']]);
  });

  it('retain-as-published keeps the RETAIN flag of a live message; without it RETAIN is cleared', () => {
    const h = new Harness();
    const kept = h.connect5('kept');
    subscribe(kept, [sub('t', 0, { retainAsPublished: true })]);
    const plain = h.connect5('plain');
    subscribe(plain, [sub('t')]);
    h.connect5('p').publish('t', 'x', 0, { retain: true });
    assert.deepEqual(publishes(kept.packets()), [['t', 'x', 0, true, false]]);
    assert.deepEqual(publishes(plain.packets()), [['t', 'x', 0, false, false]]);
  });

  it('retain handling: 0 sends retained messages on every subscribe, 1 only for a new subscription, 2 never', () => {
    const h = new Harness();
    h.connect5('p').publish('r', 'kept', 0, { retain: true });
    const count = (rh: 0 | 1 | 2) => {
      const c = h.connect5(`rh${rh}`);
      subscribe(c, [sub('r', 0, { retainHandling: rh })]);
      const first = c.pendingAfterSuback.length;
      subscribe(c, [sub('r', 0, { retainHandling: rh })], undefined, 2);
      return [first, c.pendingAfterSuback.length];
    };
    assert.deepEqual(count(0), [1, 1]);
    assert.deepEqual(count(1), [1, 0]);
    assert.deepEqual(count(2), [0, 0]);
  });

  it('subscription identifiers: a message carries the identifiers of every matching subscription, retained ones included', () => {
    const h = new Harness();
    h.connect5('p').publish('a/b', 'kept', 0, { retain: true });
    const c = h.connect5('c');
    subscribe(c, [sub('a/+')], { subscriptionIdentifiers: [7] });
    assert.deepEqual(
      publishPackets(c.pendingAfterSuback).map((p) => p.properties),
      [{ subscriptionIdentifiers: [7] }],
    );
    subscribe(c, [sub('a/#', 1)], { subscriptionIdentifiers: [300] }, 2);
    c.packets();
    h.connect5('q').publish('a/b', 'live', 1);
    const [p] = publishPackets(c.packets());
    assert.equal(p.qos, 1, 'the highest QoS of the matching subscriptions');
    assert.deepEqual(
      p.properties?.subscriptionIdentifiers?.toSorted((x, y) => x - y),
      [7, 300],
    );
  });

  it('a client that sends a subscription identifier in PUBLISH is disconnected with 0x82 [MQTT-3.3.4-6]', () => {
    const h = new Harness();
    const c = h.connect5('c');
    c.publish('t', 'x', 0, { properties: { subscriptionIdentifiers: [1] } });
    assert.equal((c.packets()[0] as { reasonCode?: number }).reasonCode, REASON.protocolError);
  });
});

describe('MQTT 5.0 message properties: request/response and user properties', () => {
  const props: Properties = {
    payloadFormatIndicator: 1,
    contentType: 'application/json',
    responseTopic: 'replies/c1',
    correlationData: Uint8Array.of(1, 2, 3),
    userProperties: [
      ['b', '2'],
      ['a', '1'],
      ['b', '3'],
    ],
  };

  it('reach a 5.0 subscriber unchanged, user properties in order [MQTT-3.3.2-17] [MQTT-3.3.2-18]', () => {
    const h = new Harness();
    const s = h.connect5('s');
    subscribe(s, [sub('req/#', 1)]);
    h.connect5('c').publish('req/x', '{}', 1, { properties: props });
    assert.deepEqual(received(s), [['req/x', '{}', props]]);
  });

  it('a response published to the response topic with the correlation data completes the round trip', () => {
    const h = new Harness();
    const requester = h.connect5('requester');
    subscribe(requester, [sub('replies/requester')]);
    const responder = h.connect5('responder');
    subscribe(responder, [sub('req')]);
    requester.publish('req', 'ping', 0, { properties: { responseTopic: 'replies/requester', correlationData: enc('id-1') } });
    const [request] = publishPackets(responder.packets());
    responder.publish(request.properties!.responseTopic!, 'pong', 0, { properties: { correlationData: request.properties!.correlationData! } });
    assert.deepEqual(received(requester), [['replies/requester', 'pong', { correlationData: enc('id-1') }]]);
  });

  it('are dropped for 3.1.1 subscribers, who get the plain message', () => {
    const h = new Harness();
    const old = h.connect('old');
    old.subscribe('req/#');
    h.connect5('c').publish('req/x', 'hi', 0, { properties: props });
    assert.deepEqual(publishes(old.packets()), [['req/x', 'hi', 0, false, false]]);
  });

  it('a response topic with a wildcard is a protocol error [MQTT-3.3.2-14]', () => {
    const h = new Harness();
    const c = h.connect5('c');
    c.publish('t', 'x', 0, { properties: { responseTopic: 'replies/#' } });
    assert.equal((c.packets()[0] as { reasonCode?: number }).reasonCode, REASON.protocolError);
  });

  it('do not cross the bus: other modules get topic and payload only', () => {
    const h = new Harness();
    h.connect5('c').publish('req/x', 'hi', 0, { properties: props });
    assert.deepEqual(h.platform.busPublished, [{ topic: 'req/x', payload: 'hi' }]);
  });
});

describe('MQTT 5.0 maximum packet size and receive maximum', () => {
  it("a message larger than the client's maximum packet size is not sent to it [MQTT-3.1.2-25]; smaller ones are", () => {
    const h = new Harness();
    const small = h.connect5('small', { properties: { maximumPacketSize: 64 } });
    subscribe(small, [sub('t', 1)]);
    const p = h.connect5('p');
    p.publish('t', 'x'.repeat(100), 1, { packetId: 1 });
    p.publish('t', 'fits', 1, { packetId: 2 });
    assert.deepEqual(received(small), [['t', 'fits']]);
    assert.equal(h.server.sessions.get('small')?.inflight.size, 1, 'the dropped one took no packet id');
  });

  it('a packet larger than the server maximum gets DISCONNECT 0x95 from its header alone', () => {
    const h = new Harness({ 'max-packet-size': 100 });
    const c = h.connect5('c');
    c.write(Uint8Array.from([0x30, 0xe8, 0x07])); // remaining length 1000
    assert.deepEqual(c.packets(), [
      { type: 'disconnect', reasonCode: 0x95, properties: { reasonString: 'packet of 1000 bytes exceeds the limit of 100 (packetTooLarge (0x95))' } },
    ]);
    assert.ok(c.closedByServer);
  });

  it("the client's receive maximum bounds the QoS 1 messages in flight to it", () => {
    const h = new Harness();
    const c = h.connect5('c', { properties: { receiveMaximum: 2 } });
    subscribe(c, [sub('t', 1)]);
    const p = h.connect5('p');
    for (let i = 1; i <= 5; i++) p.publish('t', `${i}`, 1, { packetId: i });
    const first = publishPackets(c.packets());
    assert.deepEqual(
      first.map((m) => dec(m.payload)),
      ['1', '2'],
    );
    c.send({ type: 'puback', packetId: first[0].packetId! });
    assert.deepEqual(
      received(c).map(([, payload]) => payload),
      ['3'],
    );
  });

  it('more unreleased QoS 2 messages than the server receive maximum get DISCONNECT 0x93 [MQTT-3.3.4-9]', () => {
    const h = new Harness({ 'receive-maximum': 2 });
    const c = h.connect5('c');
    c.publish('t', '1', 2, { packetId: 1 });
    c.publish('t', '2', 2, { packetId: 2 });
    c.publish('t', '3', 2, { packetId: 3 });
    const packets = c.packets();
    assert.deepEqual(
      packets.map((p) => [p.type, (p as { reasonCode?: number }).reasonCode]),
      [
        ['pubrec', 0],
        ['pubrec', 0],
        ['disconnect', 0x93],
      ],
    );
  });
});

describe('MQTT 5.0 DISCONNECT with a reason', () => {
  it('a taken-over connection gets DISCONNECT 0x8E', () => {
    const h = new Harness();
    const first = h.connect5('same');
    h.connect5('same');
    assert.equal((first.packets()[0] as { reasonCode?: number }).reasonCode, REASON.sessionTakenOver);
    assert.ok(first.closedByServer);
  });

  it('a silent client gets DISCONNECT 0x8D after 1.5 × its keep alive', () => {
    const h = new Harness();
    const c = h.connect5('c', { keepalive: 2 });
    h.advance(3500);
    assert.equal((c.packets()[0] as { reasonCode?: number }).reasonCode, REASON.keepAliveTimeout);
  });

  it('AUTH is a protocol error (no enhanced authentication): DISCONNECT 0x82', () => {
    const h = new Harness();
    const c = h.connect5('c');
    c.send({ type: 'auth', reasonCode: 0x18 });
    assert.equal((c.packets()[0] as { reasonCode?: number }).reasonCode, REASON.protocolError);
  });

  it('client DISCONNECT 0x04 publishes the will; 0x00 discards it', () => {
    const h = new Harness();
    const w = h.connect5('w');
    subscribe(w, [sub('wills/#')]);
    h.connect5('asks', { will: will('wills/asks', 'bye') }).send({ type: 'disconnect', reasonCode: REASON.disconnectWithWill });
    h.connect5('polite', { will: will('wills/polite', 'bye') }).send({ type: 'disconnect', reasonCode: 0 });
    assert.deepEqual(received(w), [['wills/asks', 'bye']]);
  });
});

describe('MQTT 5.0 will delay and will properties', () => {
  it('a delayed will is published when its delay has passed, with its properties', () => {
    const h = new Harness();
    const w = h.connect5('w');
    subscribe(w, [sub('wills/#')]);
    const c = h.connect5('c', {
      properties: { sessionExpiryInterval: 60 },
      will: { ...will('wills/c', 'gone'), properties: { willDelayInterval: 5, contentType: 'text/plain' } },
    });
    c.drop();
    h.advance(3000);
    assert.deepEqual(received(w), []);
    h.advance(3000);
    assert.deepEqual(received(w), [['wills/c', 'gone', { contentType: 'text/plain' }]]);
  });

  it('reconnecting before the delay has passed cancels the will [MQTT-3.1.3-9]', () => {
    const h = new Harness();
    const w = h.connect5('w');
    subscribe(w, [sub('wills/#')]);
    const opts = { properties: { sessionExpiryInterval: 60 }, will: { ...will('wills/c', 'gone'), properties: { willDelayInterval: 5 } } };
    h.connect5('c', opts).drop();
    h.advance(2000);
    h.open({ version: 5 }).connect('c', { ...opts, clean: false });
    h.advance(10_000);
    assert.deepEqual(received(w), []);
  });

  it('a session that ends before the delay publishes the will then', () => {
    const h = new Harness();
    const w = h.connect5('w');
    subscribe(w, [sub('wills/#')]);
    h.connect5('c', { properties: { sessionExpiryInterval: 2 }, will: { ...will('wills/c', 'gone'), properties: { willDelayInterval: 100 } } }).drop();
    h.advance(3000);
    assert.deepEqual(received(w), [['wills/c', 'gone']]);
  });
});

describe('MQTT 5.0 and 3.1.1 clients together', () => {
  it('a 3.1.1 publisher reaches a 5.0 subscriber and the other way round', () => {
    const h = new Harness();
    const v5 = h.connect5('v5');
    subscribe(v5, [sub('x/#', 1)]);
    const v3 = h.connect('v3');
    v3.subscribe('y/#', 1);
    v3.publish('x/1', 'from 3', 1);
    v5.publish('y/1', 'from 5', 1, { properties: { userProperties: [['k', 'v']] } });
    assert.deepEqual(received(v5), [['x/1', 'from 3']]);
    assert.deepEqual(publishes(v3.packets()), [['y/1', 'from 5', 1, false, false]]);
  });

  it('bus messages reach 5.0 subscribers as QoS 1 without properties', () => {
    const h = new Harness();
    const c = h.connect5('c');
    subscribe(c, [sub('sensors/#', 2)]);
    h.fromBus('sensors/t', '21');
    const [p] = publishPackets(c.packets());
    assert.deepEqual([p.topic, dec(p.payload), p.qos, p.properties], ['sensors/t', '21', 1, undefined]);
  });
});
