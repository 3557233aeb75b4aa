import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Harness, publishes } from './harness.ts';

describe('retained messages', () => {
  it('sends the retained message to a new subscriber with RETAIN set, after SUBACK [MQTT-3.3.1-6] [MQTT-3.3.1-8]', () => {
    const h = new Harness();
    h.connect('pub').publish('status/a', 'on', 1, { retain: true });
    const sub = h.connect('sub');
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'status/+', qos: 1 }] });
    const packets = sub.packets();
    assert.equal(packets[0].type, 'suback');
    assert.deepEqual(publishes(packets), [['status/a', 'on', 1, true, false]]);
  });

  it('clears RETAIN on normal forwarding to existing subscribers [MQTT-3.3.1-9]', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a');
    h.connect('pub').publish('a', 'x', 0, { retain: true });
    assert.deepEqual(publishes(sub.packets()), [['a', 'x', 0, false, false]]);
  });

  it('replaces the retained message of a topic [MQTT-3.3.1-5]', () => {
    const h = new Harness();
    const pub = h.connect('pub');
    pub.publish('a', 'old', 0, { retain: true });
    pub.publish('a', 'new', 0, { retain: true });
    const sub = h.connect('sub');
    sub.subscribe('a');
    assert.deepEqual(publishes(sub.pendingAfterSuback), [['a', 'new', 0, true, false]]);
  });

  it('clears it with an empty payload, which is still forwarded [MQTT-3.3.1-10] [MQTT-3.3.1-11]', () => {
    const h = new Harness();
    const live = h.connect('live');
    live.subscribe('a');
    const pub = h.connect('pub');
    pub.publish('a', 'x', 0, { retain: true });
    pub.publish('a', '', 0, { retain: true });
    assert.deepEqual(publishes(live.packets()), [
      ['a', 'x', 0, false, false],
      ['a', '', 0, false, false],
    ]);
    const sub = h.connect('sub');
    sub.subscribe('a');
    assert.deepEqual(sub.pendingAfterSuback, []);
    assert.equal(h.server.retained.size, 0);
  });

  it('does not retain a publish without RETAIN', () => {
    const h = new Harness();
    h.connect('pub').publish('a', 'x');
    const sub = h.connect('sub');
    sub.subscribe('a');
    assert.deepEqual(sub.pendingAfterSuback, []);
  });

  it('delivers retained messages at the lower of stored and granted QoS', () => {
    const h = new Harness();
    const pub = h.connect('pub');
    pub.publish('q2', 'x', 2, { retain: true, packetId: 1 });
    pub.publish('q0', 'y', 0, { retain: true });
    const sub = h.connect('sub');
    sub.subscribe('q2', 1, 1);
    assert.deepEqual(publishes(sub.pendingAfterSuback), [['q2', 'x', 1, true, false]]);
    sub.subscribe('q0', 2, 2);
    assert.deepEqual(publishes(sub.pendingAfterSuback), [['q0', 'y', 0, true, false]]);
  });

  it('resends retained messages when a subscription is repeated [MQTT-3.8.4-3]', () => {
    const h = new Harness();
    h.connect('pub').publish('a', 'x', 0, { retain: true });
    const sub = h.connect('sub');
    sub.subscribe('a');
    sub.subscribe('a', 0, 2);
    assert.deepEqual(publishes(sub.pendingAfterSuback), [['a', 'x', 0, true, false]]);
  });

  it('matches retained topics with wildcards, and keeps $ topics from wildcard filters', () => {
    const h = new Harness({ acl: { publish: ['#', '$app/#'], subscribe: ['#', '$app/#'] } });
    const pub = h.connect('pub');
    for (const t of ['a', 'a/b', 'a/b/c', 'b', '$app/a']) pub.publish(t, t, 0, { retain: true });
    const sub = h.connect('sub');
    sub.subscribe('a/#');
    assert.deepEqual(
      publishes(sub.pendingAfterSuback)
        .map((p) => p[0])
        .sort(),
      ['a', 'a/b', 'a/b/c'],
    );
    sub.subscribe('#', 0, 2);
    assert.deepEqual(
      publishes(sub.pendingAfterSuback)
        .map((p) => p[0])
        .sort(),
      ['a', 'a/b', 'a/b/c', 'b'],
    );
    sub.subscribe('$app/+', 0, 3);
    assert.deepEqual(
      publishes(sub.pendingAfterSuback).map((p) => p[0]),
      ['$app/a'],
    );
  });

  it('does not keep new topics beyond max-retained-messages, but replaces existing ones', () => {
    const h = new Harness({ 'max-retained-messages': 2 });
    const pub = h.connect('pub');
    pub.publish('a', '1', 0, { retain: true });
    pub.publish('b', '1', 0, { retain: true });
    pub.publish('c', '1', 0, { retain: true });
    pub.publish('a', '2', 0, { retain: true });
    const sub = h.connect('sub');
    sub.subscribe('#');
    assert.deepEqual(
      publishes(sub.pendingAfterSuback)
        .map((p) => `${p[0]}=${p[1]}`)
        .sort(),
      ['a=2', 'b=1'],
    );
  });

  it('does not retain messages that come from the bus', () => {
    const h = new Harness();
    h.fromBus('a', 'x');
    const sub = h.connect('sub');
    sub.subscribe('a');
    assert.deepEqual(sub.pendingAfterSuback, []);
  });
});
