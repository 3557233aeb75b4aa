import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Harness, publishes } from './harness.ts';

describe('persistent sessions (clean session 0)', () => {
  it('reports session present only when a stored session is resumed [MQTT-3.2.2-2] [MQTT-3.2.2-3]', () => {
    const h = new Harness();
    const first = h.open();
    assert.deepEqual(first.connect('p', { clean: false }), { type: 'connack', sessionPresent: false, returnCode: 0 });
    first.disconnect();
    first.drop();
    assert.deepEqual(h.open().connect('p', { clean: false }), { type: 'connack', sessionPresent: true, returnCode: 0 });
  });

  it('keeps subscriptions while offline and queues QoS 1/2 messages, not QoS 0', () => {
    const h = new Harness();
    const p = h.connect('p', { clean: false });
    p.subscribe('a', 2);
    p.disconnect();
    p.drop();
    const pub = h.connect('pub');
    pub.publish('a', 'q0', 0);
    pub.publish('a', 'q1', 1, { packetId: 1 });
    pub.publish('a', 'q2', 2, { packetId: 2 });
    const back = h.open();
    back.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 4, supported: true, clean: false, keepalive: 0, clientId: 'p' });
    const packets = back.packets();
    assert.deepEqual(packets[0], { type: 'connack', sessionPresent: true, returnCode: 0 });
    assert.deepEqual(publishes(packets), [
      ['a', 'q1', 1, false, false],
      ['a', 'q2', 2, false, false],
    ]);
  });

  it('redelivers unacknowledged messages with DUP and the same ids, and PUBREL for received QoS 2 [MQTT-4.4.0-1]', () => {
    const h = new Harness();
    const p = h.connect('p', { clean: false });
    p.subscribe('a', 2);
    const pub = h.connect('pub');
    pub.publish('a', 'one', 1, { packetId: 1 });
    pub.publish('a', 'two', 2, { packetId: 2 });
    pub.publish('a', 'three', 2, { packetId: 3 });
    const sent = p.packets() as { packetId: number }[];
    assert.equal(sent.length, 3);
    p.send({ type: 'pubrec', packetId: sent[2].packetId }); // 'three' reached PUBREL
    assert.deepEqual(p.one(), { type: 'pubrel', packetId: sent[2].packetId });
    p.drop();

    const back = h.open();
    back.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 4, supported: true, clean: false, keepalive: 0, clientId: 'p' });
    const again = back.packets();
    assert.deepEqual(again[0], { type: 'connack', sessionPresent: true, returnCode: 0 });
    assert.deepEqual(publishes(again), [
      ['a', 'one', 1, false, true],
      ['a', 'two', 2, false, true],
    ]);
    assert.deepEqual(
      again.slice(1).map((x) => (x as { packetId: number }).packetId),
      sent.map((x) => x.packetId),
    );
    assert.deepEqual(again[3], { type: 'pubrel', packetId: sent[2].packetId });
  });

  it('remembers incoming QoS 2 ids across a reconnect, so a resent PUBLISH is not delivered twice', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('a');
    const p = h.connect('p', { clean: false });
    p.publish('a', 'x', 2, { packetId: 5 });
    assert.deepEqual(p.one(), { type: 'pubrec', packetId: 5 });
    p.drop();
    const back = h.connect('p', { clean: false });
    back.publish('a', 'x', 2, { packetId: 5, dup: true });
    assert.deepEqual(back.one(), { type: 'pubrec', packetId: 5 });
    assert.equal(publishes(sub.packets()).length, 1);
  });

  it('discards the stored session when the client reconnects with clean session 1 [MQTT-3.1.2-6]', () => {
    const h = new Harness();
    const p = h.connect('p', { clean: false });
    p.subscribe('a', 1);
    p.drop();
    h.connect('pub').publish('a', 'x', 1);
    const back = h.open();
    back.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 4, supported: true, clean: true, keepalive: 0, clientId: 'p' });
    assert.deepEqual(back.packets(), [{ type: 'connack', sessionPresent: false, returnCode: 0 }]);
    h.connect('pub2').publish('a', 'y', 1);
    assert.deepEqual(back.packets(), []);
  });

  it('ends a clean session with its connection', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.subscribe('a', 1);
    c.drop();
    assert.equal(h.server.sessions.has('c'), false);
    assert.equal(h.server.subscriptions.size, 0);
    assert.deepEqual(h.open().connect('c', { clean: false }), { type: 'connack', sessionPresent: false, returnCode: 0 });
  });

  it('resumes the session on takeover without losing queued messages', () => {
    const h = new Harness();
    const p = h.connect('p', { clean: false });
    p.subscribe('a', 1);
    h.connect('pub').publish('a', 'x', 1);
    assert.equal(publishes(p.packets()).length, 1);
    const second = h.open();
    second.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 4, supported: true, clean: false, keepalive: 0, clientId: 'p' });
    assert.deepEqual(publishes(second.packets()), [['a', 'x', 1, false, true]]);
  });

  it('keeps queued messages in order across several reconnects with a small window', () => {
    const h = new Harness({ 'max-inflight': 2 });
    const p = h.connect('p', { clean: false });
    p.subscribe('a', 1);
    p.drop();
    const pub = h.connect('pub');
    for (let i = 0; i < 6; i++) pub.publish('a', `${i}`, 1, { packetId: i + 1 });
    const got: string[] = [];
    for (let round = 0; round < 10 && got.length < 6; round++) {
      const c = h.connect('p', { clean: false });
      const packets = c.packets();
      got.push(
        ...publishes(packets)
          .filter((x) => !x[4])
          .map((x) => x[1]),
      );
      // Acknowledge only the first of what came, then drop the connection.
      const first = packets.find((x) => x.type === 'publish') as { packetId: number } | undefined;
      if (first) c.send({ type: 'puback', packetId: first.packetId });
      got.push(
        ...publishes(c.packets())
          .filter((x) => !x[4])
          .map((x) => x[1]),
      );
      c.drop();
    }
    assert.deepEqual(got, ['0', '1', '2', '3', '4', '5']);
  });
});
