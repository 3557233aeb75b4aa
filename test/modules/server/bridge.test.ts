import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Harness, publishes } from './harness.ts';

describe('bridge to the bus', () => {
  it('publishes a client PUBLISH onto the bus once', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('#', 2);
    sub.subscribe('a/+', 1, 2);
    const pub = h.connect('pub');
    pub.publish('a/b', 'x', 2, { packetId: 1 });
    pub.publish('a/b', 'x', 2, { packetId: 1, dup: true });
    assert.deepEqual(h.platform.busPublished, [{ topic: 'a/b', payload: 'x' }]);
  });

  it('publishes to the bus even with no MQTT subscriber', () => {
    const h = new Harness();
    h.connect('pub').publish('t', 'x');
    assert.deepEqual(h.platform.busPublished, [{ topic: 't', payload: 'x' }]);
  });

  it('delivers bus messages to matching clients as QoS 1, not retained, and does not echo them', () => {
    const h = new Harness();
    const q2 = h.connect('q2');
    q2.subscribe('sensors/#', 2);
    const q0 = h.connect('q0');
    q0.subscribe('sensors/+', 0);
    h.fromBus('sensors/t', '20');
    assert.deepEqual(publishes(q2.packets()), [['sensors/t', '20', 1, false, false]]);
    assert.deepEqual(publishes(q0.packets()), [['sensors/t', '20', 0, false, false]]);
    assert.deepEqual(h.platform.busPublished, []);
  });

  it('delivers a bus message once to a client with overlapping subscriptions', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.subscribe(['a/#', 'a/b', '+/b'], 1);
    h.fromBus('a/b', 'x');
    assert.equal(publishes(c.packets()).length, 1);
  });

  it('subscribes on the bus with the union of client filters, counted by session', () => {
    const h = new Harness();
    const a = h.connect('a');
    const b = h.connect('b');
    a.subscribe('x/#');
    b.subscribe('x/#');
    a.subscribe('x/#', 1, 2); // a repeat does not count twice
    b.subscribe('y');
    assert.deepEqual([...h.platform.busFilters].sort(), ['x/#', 'y']);
    a.send({ type: 'unsubscribe', packetId: 3, filters: ['x/#'] });
    assert.deepEqual([...h.platform.busFilters].sort(), ['x/#', 'y']);
    b.send({ type: 'unsubscribe', packetId: 3, filters: ['x/#'] });
    assert.deepEqual([...h.platform.busFilters], ['y']);
    b.drop(); // clean session teardown
    assert.deepEqual([...h.platform.busFilters], []);
    assert.deepEqual(h.platform.busCalls, ['+x/#', '+y', '-x/#', '-y']);
  });

  it('keeps the bus subscriptions of an offline persistent session, and queues bus messages for it', () => {
    const h = new Harness();
    const p = h.connect('p', { clean: false });
    p.subscribe('t', 1);
    p.drop();
    assert.deepEqual([...h.platform.busFilters], ['t']);
    h.fromBus('t', 'while away');
    const back = h.connect('p', { clean: false });
    assert.deepEqual(publishes(back.packets()), [['t', 'while away', 1, false, false]]);
  });

  it('releases the bus filters of a persistent session replaced by a clean one', () => {
    const h = new Harness();
    const p = h.connect('p', { clean: false });
    p.subscribe('t');
    p.drop();
    h.connect('p', { clean: true });
    assert.deepEqual([...h.platform.busFilters], []);
  });

  it('keeps serving clients when the bus refuses a publish, and warns once', () => {
    const h = new Harness();
    h.platform.publishError = Object.assign(new Error('denied'), { payload: { tag: 'denied', val: 'publish to t' } });
    const sub = h.connect('sub');
    sub.subscribe('t');
    const pub = h.connect('pub');
    pub.publish('t', '1', 1, { packetId: 1 });
    pub.publish('t', '2', 1, { packetId: 2 });
    assert.deepEqual(pub.packets(), [
      { type: 'puback', packetId: 1 },
      { type: 'puback', packetId: 2 },
    ]);
    assert.equal(publishes(sub.packets()).length, 2);
    const warnings = h.platform.logs.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].message, /bus publish to "t" failed: denied: publish to t/);
  });

  it('skips a bus message with an invalid topic and handles the rest of the batch', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.subscribe('#');
    h.server.handleBusMessages([
      { topic: 'a/#', payload: new Uint8Array(1) },
      { topic: 'ok', payload: new Uint8Array(1) },
    ]);
    assert.deepEqual(
      publishes(c.packets()).map((p) => p[0]),
      ['ok'],
    );
  });
});
