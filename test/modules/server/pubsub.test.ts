import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePublish, serialize } from '../../../modules/server/src/codec/serializer.ts';
import { bytes, enc, Harness, publishes } from './harness.ts';

describe('PUBLISH and SUBSCRIBE at QoS 0', () => {
  it('delivers a publish to a matching subscriber', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    assert.deepEqual(sub.subscribe('sensors/+/temp'), { type: 'suback', packetId: 1, returnCodes: [0] });
    const pub = h.connect('pub');
    pub.publish('sensors/kitchen/temp', '21.5');
    pub.publish('sensors/kitchen/humidity', '40');
    assert.deepEqual(publishes(sub.packets()), [['sensors/kitchen/temp', '21.5', 0, false, false]]);
    assert.deepEqual(pub.packets(), []);
  });

  it('delivers to the publisher too when it subscribed', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.subscribe('#');
    c.publish('a', 'self');
    assert.deepEqual(publishes(c.packets()), [['a', 'self', 0, false, false]]);
  });

  it('answers SUBACK with the packet id and one code per filter, in order [MQTT-3.8.4-5]', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.send({
      type: 'subscribe',
      packetId: 4242,
      subscriptions: [
        { filter: 'a', qos: 2 },
        { filter: 'a/#/b', qos: 1 },
        { filter: 'b', qos: 1 },
        { filter: 'c', qos: 0 },
      ],
    });
    assert.deepEqual(c.one(), { type: 'suback', packetId: 4242, returnCodes: [2, 0x80, 1, 0] });
  });

  it('refuses invalid filters with 0x80', () => {
    const h = new Harness();
    const c = h.connect('c');
    assert.deepEqual((c.subscribe(['a/b#', 'a+/b', '', '#/a', 'ok']) as { returnCodes: number[] }).returnCodes, [0x80, 0x80, 0x80, 0x80, 0]);
  });

  it('delivers once, at the highest QoS, to overlapping subscriptions', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a/+', 0, 1);
    sub.subscribe('a/#', 1, 2);
    sub.subscribe('a/b', 0, 3);
    h.connect('pub').publish('a/b', 'x', 1);
    assert.deepEqual(publishes(sub.packets()), [['a/b', 'x', 1, false, false]]);
  });

  it('replaces the QoS of a repeated subscription [MQTT-3.8.4-3]', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a', 2);
    sub.subscribe('a', 0, 2);
    h.connect('pub').publish('a', 'x', 2);
    assert.deepEqual(publishes(sub.packets()), [['a', 'x', 0, false, false]]);
  });

  it('stops delivery after UNSUBSCRIBE and answers UNSUBACK, even for unknown filters [MQTT-3.10.4-5]', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a');
    sub.send({ type: 'unsubscribe', packetId: 9, filters: ['a', 'never/subscribed'] });
    assert.deepEqual(sub.one(), { type: 'unsuback', packetId: 9 });
    h.connect('pub').publish('a', 'x');
    assert.deepEqual(sub.packets(), []);
  });

  it('does not match $ topics with wildcard filters [MQTT-4.7.2-1]', () => {
    const h = new Harness({ acl: { publish: ['#', '$app/#'], subscribe: ['#', '$app/#'] } });
    const wild = h.connect('wild');
    wild.subscribe(['#', '+/x']);
    const exact = h.connect('exact');
    exact.subscribe('$app/+');
    h.connect('pub').publish('$app/x', 'd');
    assert.deepEqual(publishes(wild.packets()), []);
    assert.deepEqual(publishes(exact.packets()), [['$app/x', 'd', 0, false, false]]);
  });

  it('handles several packets in one data event and one packet over several', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('t');
    const pub = h.connect('pub');
    const one = encodePublish(enc('t'), enc('1'), 0, false, false);
    const two = encodePublish(enc('t'), enc('2'), 0, false, false);
    const three = encodePublish(enc('t'), enc('3'), 0, false, false);
    const stream = bytes(one, two, three);
    pub.write(stream.subarray(0, 8), stream.subarray(8, 9), stream.subarray(9));
    assert.deepEqual(
      publishes(sub.packets()).map((p) => p[1]),
      ['1', '2', '3'],
    );
  });

  it('routes a topic of 30000 empty levels without exhausting the stack (with max-topic-levels raised to allow it)', () => {
    const h = new Harness({ 'max-topic-levels': 30_000, 'max-topic-length': 65_535 });
    const sub = h.connect('sub');
    sub.subscribe(['#', '+/+/#', `${'/'.repeat(29_999)}+`]);
    h.connect('pub').publish('/'.repeat(29_999), 'deep');
    assert.equal(publishes(sub.packets()).length, 1);
  });

  it('answers PINGREQ with PINGRESP', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.send({ type: 'pingreq' });
    assert.deepEqual(c.one(), { type: 'pingresp' });
  });

  it('closes on DISCONNECT and reads nothing after it', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.write(bytes([0xe0, 0x00], [0xc0, 0x00]));
    assert.deepEqual(c.packets(), []);
    assert.ok(c.closedByServer);
  });

  for (const topic of ['a/+', 'a/#', '']) {
    it(`closes the connection on a PUBLISH to ${JSON.stringify(topic)} [MQTT-3.3.2-2]`, () => {
      const h = new Harness();
      const sub = h.connect('sub');
      sub.subscribe('#');
      const c = h.connect('c');
      c.write(encodePublish(enc(topic), enc('x'), 0, false, false));
      assert.ok(c.closedByServer);
      assert.equal(sub.closedByServer, false);
      assert.deepEqual(sub.packets(), []);
    });
  }

  for (const [name, wire] of [
    ['a CONNACK', [0x20, 0x02, 0, 0]],
    ['a SUBACK', [0x90, 0x03, 0, 1, 0]],
    ['an UNSUBACK', [0xb0, 0x02, 0, 1]],
    ['a PINGRESP', [0xd0, 0x00]],
    ['a malformed packet', [0x30, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['a SUBSCRIBE with flags 0', [0x80, 0x06, 0, 1, 0, 1, 0x61, 0]],
  ] as const) {
    it(`closes only the connection that sent ${name}`, () => {
      const h = new Harness();
      const other = h.connect('other');
      const c = h.connect('c');
      c.write(Uint8Array.from(wire));
      assert.ok(c.closedByServer);
      assert.equal(other.closedByServer, false);
      other.send({ type: 'pingreq' });
      assert.deepEqual(other.one(), { type: 'pingresp' });
    });
  }

  it('ignores data from a connection after closing it', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.write(Uint8Array.of(0x20, 0x02, 0, 0));
    c.send({ type: 'pingreq' });
    assert.deepEqual(c.packets(), []);
  });

  it('sends one message to many subscribers with one encoding', () => {
    const h = new Harness();
    const subs = Array.from({ length: 3 }, (_, i) => h.connect(`s${i}`));
    for (const s of subs) s.subscribe('t');
    h.connect('pub').publish('t', 'x');
    const packets = subs.map((s) => h.platform.output.get(s.id)!.at(-1)!);
    assert.deepEqual(packets[0], serialize({ type: 'publish', topic: 't', payload: enc('x'), qos: 0, retain: false, dup: false }));
    assert.deepEqual(packets[1], packets[0]);
  });
});

describe('ACL', () => {
  it('refuses subscriptions the ACL does not cover with 0x80', () => {
    const h = new Harness({ acl: { publish: ['#'], subscribe: ['public/#', 'sensors/+/temp'] } });
    const c = h.connect('c');
    assert.deepEqual(
      (c.subscribe(['public/a', 'public/#', 'sensors/x/temp', 'sensors/#', 'private', '#']) as { returnCodes: number[] }).returnCodes,
      [0, 0, 0, 0x80, 0x80, 0x80],
    );
  });

  it('acknowledges but drops publishes the ACL denies', () => {
    const h = new Harness({ acl: { publish: ['public/#'], subscribe: ['#'] } });
    const sub = h.connect('sub');
    sub.subscribe('#');
    const pub = h.connect('pub');
    pub.publish('private/a', 'x', 1, { packetId: 3 });
    assert.deepEqual(pub.one(), { type: 'puback', packetId: 3 });
    assert.deepEqual(sub.packets(), []);
    assert.deepEqual(h.platform.busPublished, []);
    assert.equal(pub.closedByServer, false);
  });

  it('by default denies publishing and subscribing to $ topics', () => {
    const h = new Harness();
    const c = h.connect('c');
    assert.deepEqual((c.subscribe(['$SYS/#', '$x', '#']) as { returnCodes: number[] }).returnCodes, [0x80, 0x80, 0]);
    c.publish('$SYS/x', 'x');
    assert.deepEqual(h.platform.busPublished, []);
  });

  it('allows nothing with empty lists', () => {
    const h = new Harness({ acl: {} });
    const c = h.connect('c');
    assert.deepEqual((c.subscribe('a') as { returnCodes: number[] }).returnCodes, [0x80]);
    c.publish('a', 'x');
    assert.deepEqual(h.platform.busPublished, []);
  });
});
