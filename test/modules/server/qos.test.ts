import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Harness, publishes } from './harness.ts';

describe('QoS 1', () => {
  it('acknowledges an incoming QoS 1 publish with PUBACK [MQTT-4.3.2-2]', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.publish('a', 'x', 1, { packetId: 77 });
    assert.deepEqual(c.one(), { type: 'puback', packetId: 77 });
  });

  it('sends QoS 1 to a QoS 1 subscriber and releases it on PUBACK', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a', 1);
    h.connect('pub').publish('a', 'x', 1);
    const [p] = sub.packets();
    assert.equal(p.type, 'publish');
    assert.equal((p as { qos: number }).qos, 1);
    const id = (p as { packetId: number }).packetId;
    assert.ok(id > 0);
    assert.equal(h.server.sessions.get('sub')!.inflight.size, 1);
    sub.send({ type: 'puback', packetId: id });
    assert.equal(h.server.sessions.get('sub')!.inflight.size, 0);
  });

  it('downgrades to the granted QoS', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a', 0);
    h.connect('pub').publish('a', 'x', 2);
    assert.deepEqual(publishes(sub.packets()), [['a', 'x', 0, false, false]]);
  });

  it('never upgrades above the published QoS', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a', 2);
    h.connect('pub').publish('a', 'x', 1);
    assert.deepEqual(publishes(sub.packets()), [['a', 'x', 1, false, false]]);
  });

  it('uses distinct non-zero packet ids for messages in flight', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a', 1);
    const pub = h.connect('pub');
    for (let i = 0; i < 5; i++) pub.publish('a', `${i}`, 1, { packetId: i + 1 });
    const ids = sub.packets().map((p) => (p as { packetId: number }).packetId);
    assert.equal(new Set(ids).size, 5);
    assert.ok(ids.every((id) => id > 0 && id <= 65535));
  });

  it('holds messages beyond max-inflight until acknowledgements make room, in order', () => {
    const h = new Harness({ 'max-inflight': 2 });
    const sub = h.connect('sub');
    sub.subscribe('a', 1);
    const pub = h.connect('pub');
    for (let i = 0; i < 5; i++) pub.publish('a', `${i}`, 1, { packetId: i + 1 });
    let got = sub.packets();
    assert.deepEqual(
      publishes(got).map((p) => p[1]),
      ['0', '1'],
    );
    const received: string[] = ['0', '1'];
    while (got.length > 0) {
      for (const p of got) sub.send({ type: 'puback', packetId: (p as { packetId: number }).packetId });
      got = sub.packets();
      received.push(...publishes(got).map((p) => p[1]));
    }
    assert.deepEqual(received, ['0', '1', '2', '3', '4']);
  });

  it('sends QoS 0 at once even while QoS 1 messages wait for room', () => {
    const h = new Harness({ 'max-inflight': 1 });
    const sub = h.connect('sub');
    sub.subscribe('q1', 1, 1);
    sub.subscribe('q0', 0, 2);
    const pub = h.connect('pub');
    pub.publish('q1', 'a', 1, { packetId: 1 });
    pub.publish('q1', 'b', 1, { packetId: 2 });
    pub.publish('q0', 'c', 0);
    assert.deepEqual(
      publishes(sub.packets()).map((p) => p[1]),
      ['a', 'c'],
    );
  });

  it('drops the oldest queued message when the queue is full', () => {
    const h = new Harness({ 'max-inflight': 1, 'max-queued-messages': 2 });
    const sub = h.connect('sub');
    sub.subscribe('a', 1);
    const pub = h.connect('pub');
    for (const x of ['0', '1', '2', '3']) pub.publish('a', x, 1);
    const first = sub.packets();
    assert.deepEqual(
      publishes(first).map((p) => p[1]),
      ['0'],
    );
    sub.send({ type: 'puback', packetId: (first[0] as { packetId: number }).packetId });
    const next = sub.packets();
    assert.deepEqual(
      publishes(next).map((p) => p[1]),
      ['2'],
    );
    assert.ok(h.platform.logs.some((l) => l.level === 'warn' && /queue of client "sub" is full/.test(l.message)));
  });

  it('ignores a PUBACK for an unknown packet id', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.send({ type: 'puback', packetId: 5 });
    assert.equal(c.closedByServer, false);
  });
});

describe('QoS 2', () => {
  it('runs the inbound flow: PUBREC, then PUBCOMP on PUBREL', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a');
    const c = h.connect('c');
    c.publish('a', 'x', 2, { packetId: 9 });
    assert.deepEqual(c.one(), { type: 'pubrec', packetId: 9 });
    assert.deepEqual(publishes(sub.packets()), [['a', 'x', 0, false, false]]);
    c.send({ type: 'pubrel', packetId: 9 });
    assert.deepEqual(c.one(), { type: 'pubcomp', packetId: 9 });
  });

  it('delivers a resent QoS 2 publish only once until PUBREL [MQTT-4.3.3-2]', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a');
    const c = h.connect('c');
    c.publish('a', 'x', 2, { packetId: 9 });
    c.publish('a', 'x', 2, { packetId: 9, dup: true });
    assert.deepEqual(c.packets(), [
      { type: 'pubrec', packetId: 9 },
      { type: 'pubrec', packetId: 9 },
    ]);
    assert.equal(publishes(sub.packets()).length, 1);
    assert.equal(h.platform.busPublished.length, 1);
    // After PUBREL the id is free: the same id is a new message.
    c.send({ type: 'pubrel', packetId: 9 });
    c.publish('a', 'y', 2, { packetId: 9 });
    assert.deepEqual(publishes(sub.packets()), [['a', 'y', 0, false, false]]);
  });

  it('answers PUBCOMP to a PUBREL for an unknown id', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.send({ type: 'pubrel', packetId: 123 });
    assert.deepEqual(c.one(), { type: 'pubcomp', packetId: 123 });
  });

  it('runs the outbound flow: PUBLISH, PUBREC → PUBREL, PUBCOMP releases', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a', 2);
    h.connect('pub').publish('a', 'x', 2);
    const [p] = sub.packets();
    assert.deepEqual(publishes([p]), [['a', 'x', 2, false, false]]);
    const id = (p as { packetId: number }).packetId;
    sub.send({ type: 'pubrec', packetId: id });
    assert.deepEqual(sub.one(), { type: 'pubrel', packetId: id });
    // A repeated PUBREC gets the PUBREL again.
    sub.send({ type: 'pubrec', packetId: id });
    assert.deepEqual(sub.one(), { type: 'pubrel', packetId: id });
    sub.send({ type: 'pubcomp', packetId: id });
    assert.equal(h.server.sessions.get('sub')!.inflight.size, 0);
  });

  it('does not release a QoS 2 message on PUBACK or on an early PUBCOMP', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a', 2);
    h.connect('pub').publish('a', 'x', 2);
    const id = (sub.one() as { packetId: number }).packetId;
    sub.send({ type: 'puback', packetId: id });
    sub.send({ type: 'pubcomp', packetId: id });
    assert.equal(h.server.sessions.get('sub')!.inflight.size, 1);
  });
});
