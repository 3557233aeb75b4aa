// The server's state in the host's key-value store (modules/server/src/kv-store.ts),
// driven through the core with an in-memory store: what is written in the call that
// makes a change (before that call's acknowledgements could leave the host), and what
// a new instance on the same store gives clients back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConnectPacket } from '../../../modules/server/src/codec/packets.ts';
import { decodeEntry, decodeSession } from '../../../modules/server/src/records.ts';
import { type Client, Harness, publishes } from './harness.ts';
import { MemoryKeyValue } from './memory-kv.ts';

const connect311 = (clientId: string, clean = false): Partial<ConnectPacket> => ({ clientId, clean });

/** A 3.1.1 client reconnecting without a clean session; returns its packets after CONNACK, and the CONNACK. */
function reconnect(h: Harness, clientId: string, version: 4 | 5 = 4, options: Partial<ConnectPacket> = {}) {
  const c = h.open({ version });
  const ack = c.connect(clientId, { clean: false, ...options });
  return { c, ack, packets: c.packets() };
}

/** A persistent subscriber that subscribed at `qos` and went away. */
function offlineSubscriber(h: Harness, clientId: string, filter: string, qos: 0 | 1 | 2 = 1): void {
  const s = h.connect(clientId, connect311(clientId));
  s.subscribe(filter, qos);
  s.disconnect();
  s.drop();
}

const sessionKeys = (kv: MemoryKeyValue, prefix: string) => kv.keys('sessions').filter((k) => k.startsWith(prefix));

describe('persistent sessions in the key-value store', () => {
  it('writes a message queued for an offline session in the call whose PUBACK acknowledges it', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    offlineSubscriber(h, 'sub', 'a/#');
    const pub = h.connect('pub');
    const before = kv.calls.setMany ?? 0;
    pub.publish('a/1', 'one', 1, { packetId: 7 });
    // The PUBACK was handed to the host in this call, and the message was written in it too.
    assert.deepEqual(pub.one(), { type: 'puback', packetId: 7 });
    assert.equal(kv.calls.setMany, before + 1);
    const [key] = sessionKeys(kv, 'm/');
    assert.match(key, /^m\/\d+\/\d+$/);
    const entry = decodeEntry(kv.buckets.get('sessions')!.get(key)!, 1);
    assert.equal(entry.message.topic, 'a/1');
    assert.equal(new TextDecoder().decode(entry.message.payload), 'one');
    assert.equal(entry.qos, 1);
  });

  it('after a restart, a 3.1.1 and a 5.0 client resume their sessions and get every queued message, in order', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    offlineSubscriber(h, 'old', 'a/#', 1);
    const v5 = h.connect5('new', { clean: false, properties: { sessionExpiryInterval: 3600 } });
    v5.subscribe('a/#', 2);
    v5.disconnect();
    v5.drop();
    const pub = h.connect('pub');
    for (let i = 1; i <= 5; i++) pub.publish(`a/${i}`, `m${i}`, i % 2 === 0 ? 2 : 1, { packetId: i });
    h.fromBus('a/bus', 'from the bus');

    const after = h.restart(1000);
    const old = reconnect(after, 'old');
    assert.deepEqual(old.ack, { type: 'connack', sessionPresent: true, returnCode: 0 });
    assert.deepEqual(
      publishes(old.packets).map(([t, p, q]) => [t, p, q]),
      [
        ['a/1', 'm1', 1],
        ['a/2', 'm2', 1],
        ['a/3', 'm3', 1],
        ['a/4', 'm4', 1],
        ['a/5', 'm5', 1],
        ['a/bus', 'from the bus', 1],
      ],
    );
    const neu = reconnect(after, 'new', 5, { properties: { sessionExpiryInterval: 3600 } });
    assert.equal(neu.ack.type === 'connack' && neu.ack.sessionPresent, true);
    assert.deepEqual(
      publishes(neu.packets).map(([t, p, q]) => [t, p, q]),
      [
        ['a/1', 'm1', 1],
        ['a/2', 'm2', 2],
        ['a/3', 'm3', 1],
        ['a/4', 'm4', 2],
        ['a/5', 'm5', 1],
        ['a/bus', 'from the bus', 1],
      ],
    );
    // Subscriptions came back too: new messages reach them, and the bus filter is held again.
    assert.ok(after.platform.busFilters.has('a/#'));
  });

  it('messages stay kept until acknowledged: after PUBACK they are deleted, and a restart brings back only the rest', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    offlineSubscriber(h, 'sub', 't');
    const pub = h.connect('pub');
    pub.publish('t', 'one', 1, { packetId: 1 });
    pub.publish('t', 'two', 1, { packetId: 2 });
    const { c, packets } = reconnect(h, 'sub');
    const ids = packets.map((p) => (p as { packetId: number }).packetId);
    assert.equal(sessionKeys(kv, 'm/').length, 2);
    // Sent from the queue: the packet ids were written apart (f/), the entries not rewritten.
    assert.equal(sessionKeys(kv, 'f/').length, 2);
    c.send({ type: 'puback', packetId: ids[0] });
    assert.equal(sessionKeys(kv, 'm/').length, 1);
    assert.equal(sessionKeys(kv, 'f/').length, 1);
    c.drop();
    const back = reconnect(h.restart(), 'sub');
    // Unacknowledged: sent again with DUP and its packet id [MQTT-4.4.0-1].
    assert.deepEqual(publishes(back.packets), [['t', 'two', 1, false, true]]);
    assert.equal((back.packets[0] as { packetId: number }).packetId, ids[1]);
    back.c.send({ type: 'puback', packetId: ids[1] });
    assert.deepEqual(sessionKeys(kv, 'm/'), []);
    assert.deepEqual(sessionKeys(kv, 'f/'), []);
  });

  it('outgoing QoS 2 after PUBREC comes back as PUBREL only, with the same id; incoming QoS 2 ids are not delivered twice', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    const sub = h.connect('sub', connect311('sub'));
    sub.subscribe('q', 2);
    const pub = h.connect('pub', connect311('pub'));
    pub.publish('q', 'exactly once', 2, { packetId: 9 });
    assert.deepEqual(pub.one(), { type: 'pubrec', packetId: 9 });
    assert.equal(sessionKeys(kv, 'a/').length, 1);
    const [delivered] = sub.packets() as { packetId: number }[];
    sub.send({ type: 'pubrec', packetId: delivered.packetId });
    assert.deepEqual(sub.one(), { type: 'pubrel', packetId: delivered.packetId });
    // Written in one call: entry sent at once (m/ with its id), then released (f/ with the state).
    sub.drop();
    pub.drop();

    const after = h.restart();
    const s = reconnect(after, 'sub');
    assert.deepEqual(s.packets, [{ type: 'pubrel', packetId: delivered.packetId }]);
    s.c.send({ type: 'pubcomp', packetId: delivered.packetId });
    assert.deepEqual(sessionKeys(kv, 'm/'), []);
    assert.deepEqual(sessionKeys(kv, 'f/'), []);

    const p = reconnect(after, 'pub');
    assert.deepEqual(p.packets, []);
    // The publisher resends its PUBLISH (it saw PUBREC, but a client may resend): acknowledged, not delivered again.
    p.c.publish('q', 'exactly once', 2, { packetId: 9, dup: true });
    assert.deepEqual(p.c.one(), { type: 'pubrec', packetId: 9 });
    assert.deepEqual(s.c.packets(), []);
    p.c.send({ type: 'pubrel', packetId: 9 });
    assert.deepEqual(p.c.one(), { type: 'pubcomp', packetId: 9 });
    assert.deepEqual(sessionKeys(kv, 'a/'), []);
  });

  it('a session connected when the module stopped is offline after the restart, and expires its expiry interval later', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    const c = h.connect5('c', { clean: false, properties: { sessionExpiryInterval: 60 } });
    c.subscribe('x', 1);
    const [s] = sessionKeys(kv, 's/');
    assert.equal(decodeSession(kv.buckets.get('sessions')!.get(s)!).expiresAt, undefined);

    const after = h.restart(5000);
    const restored = decodeSession(kv.buckets.get('sessions')!.get(s)!);
    assert.equal(restored.expiresAt, after.platform.time + 60_000);
    after.advance(59_000);
    assert.ok(after.server.sessions.has('c'));
    after.advance(2000);
    assert.ok(!after.server.sessions.has('c'));
    assert.deepEqual(kv.keys('sessions'), []);
    assert.ok(!after.platform.busFilters.has('x'));
  });

  it('an offline session past its expiry when the module starts again ends at the first tick', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    const c = h.connect5('c', { clean: false, properties: { sessionExpiryInterval: 10 } });
    c.subscribe('x', 1);
    c.disconnect();
    c.drop();
    const after = h.restart(60_000);
    after.advance(1000);
    assert.ok(!after.server.sessions.has('c'));
    assert.deepEqual(kv.keys('sessions'), []);
  });

  it('clean sessions are never written; ending a kept session deletes everything it had', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    const clean = h.connect('clean');
    clean.subscribe('t', 1);
    const pub = h.connect('pub');
    pub.publish('t', 'x', 1);
    assert.deepEqual(kv.keys('sessions'), []);

    offlineSubscriber(h, 'p', 't', 2);
    const p5 = h.connect5('p5', { clean: false, properties: { sessionExpiryInterval: 100 } });
    p5.subscribe('t', 1);
    p5.disconnect();
    p5.drop();
    pub.publish('t', 'y', 2, { packetId: 3 });
    assert.ok(kv.keys('sessions').length > 0);
    // A clean session start discards the 3.1.1 session; the 5.0 one is resumed with expiry 0, so it ends with its connection.
    h.connect('p', connect311('p', true));
    const again = h.connect5('p5', { clean: false, properties: { sessionExpiryInterval: 0 } });
    assert.deepEqual(kv.keys('sessions'), []);
    again.disconnect();
    assert.deepEqual(kv.keys('sessions'), []);
  });

  it('subscriptions are written one by one, with their options, and come back with them', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    const c = h.connect5('c', { clean: false, properties: { sessionExpiryInterval: 100 } });
    c.send({
      type: 'subscribe',
      packetId: 1,
      properties: { subscriptionIdentifiers: [42] },
      subscriptions: [
        { filter: 'a/+', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        { filter: '$share/g/b', qos: 2 },
        { filter: 'gone', qos: 0 },
      ],
    });
    c.packets();
    c.send({ type: 'unsubscribe', packetId: 2, filters: ['gone'] });
    c.packets();
    assert.equal(sessionKeys(kv, 'u/').length, 2);
    c.drop();
    const after = h.restart();
    const session = after.server.sessions.get('c')!;
    assert.deepEqual(
      [...session.subscriptions],
      [
        ['a/+', { qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2, id: 42 }],
        ['$share/g/b', { qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0, id: 42 }],
      ],
    );
    assert.ok(after.platform.busFilters.has('a/+') && after.platform.busFilters.has('b'));
    // Changing one after the restart rewrites that one only.
    const back = reconnect(after, 'c', 5, { properties: { sessionExpiryInterval: 100 } }).c;
    back.send({ type: 'unsubscribe', packetId: 3, filters: ['a/+'] });
    back.packets();
    assert.equal(sessionKeys(kv, 'u/').length, 1);
  });

  it('writes at most one set-many and one delete-many per call, however many messages it queues', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({ 'max-queued-messages': 5000 }, { kv });
    for (let i = 0; i < 10; i++) offlineSubscriber(h, `s${i}`, 'load/#');
    const calls = { ...kv.calls };
    h.server.handleBusMessages(Array.from({ length: 100 }, (_, i) => ({ topic: `load/${i}`, payload: new Uint8Array(8) })));
    // 100 messages for each of 10 sessions: 1000 entries, one batch (the host takes up to 1000).
    assert.equal((kv.calls.setMany ?? 0) - (calls.setMany ?? 0), 1);
    assert.equal((kv.calls.deleteMany ?? 0) - (calls.deleteMany ?? 0), 0);
    assert.equal(sessionKeys(kv, 'm/').length, 1000);
  });

  it('what the store refuses stays in memory: delivered on reconnect, not after a restart; the refusal is logged', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    offlineSubscriber(h, 'sub', 't');
    kv.maxValueBytes = 100;
    const pub = h.connect('pub');
    pub.publish('t', 'x'.repeat(200), 1, { packetId: 1 });
    pub.publish('t', 'small', 1, { packetId: 2 });
    assert.ok(h.platform.logs.some((l) => l.level === 'warn' && /limit key-value invalid: bucket "sessions": .* is not kept across restarts/.test(l.message)));
    assert.equal(sessionKeys(kv, 'm/').length, 1);
    const after = h.restart();
    assert.deepEqual(
      publishes(reconnect(after, 'sub').packets).map(([, p]) => p),
      ['small'],
    );
    const live = reconnect(h, 'sub');
    assert.deepEqual(
      publishes(live.packets).map(([, p]) => p),
      ['x'.repeat(200), 'small'],
    );
  });

  it('a message dropped from a full queue is deleted from the store as well', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({ 'max-queued-messages': 2 }, { kv });
    offlineSubscriber(h, 'sub', 't');
    const pub = h.connect('pub');
    for (let i = 1; i <= 4; i++) pub.publish('t', `m${i}`, 1, { packetId: i });
    assert.equal(sessionKeys(kv, 'm/').length, 2);
    assert.deepEqual(
      publishes(reconnect(h.restart(), 'sub').packets).map(([, p]) => p),
      ['m3', 'm4'],
    );
  });
});

describe('retained messages in the key-value store', () => {
  it('come back after a restart with their properties; a cleared one does not', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    const pub = h.connect5('pub');
    pub.publish('r/a', 'A', 1, {
      retain: true,
      packetId: 1,
      properties: { contentType: 'text/plain', correlationData: new Uint8Array([1, 2]), userProperties: [['k', 'v']] },
    });
    pub.publish('r/b', 'B', 0, { retain: true });
    pub.publish('r/c', 'C', 0, { retain: true });
    pub.publish('r/c', '', 0, { retain: true });
    pub.publish('r/b', 'B2', 0, { retain: true });
    assert.equal(kv.keys('retained').length, 2);
    const after = h.restart();
    const sub = after.connect5('sub');
    sub.subscribe('r/#', 1);
    const got = sub.pendingAfterSuback.filter((p) => p.type === 'publish') as Extract<ReturnType<Client['one']>, { type: 'publish' }>[];
    assert.deepEqual(got.map((p) => [p.topic, new TextDecoder().decode(p.payload), p.retain]).sort(), [
      ['r/a', 'A', true],
      ['r/b', 'B2', true],
    ]);
    const a = got.find((p) => p.topic === 'r/a')!;
    assert.equal(a.properties?.contentType, 'text/plain');
    assert.deepEqual([...(a.properties?.correlationData ?? [])], [1, 2]);
    assert.deepEqual(a.properties?.userProperties, [['k', 'v']]);
  });

  it('expired ones, and ones the limits no longer allow, are dropped when the module starts', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    const pub = h.connect5('pub');
    pub.publish('e', 'expires', 0, { retain: true, properties: { messageExpiryInterval: 10 } });
    pub.publish('k1', 'kept', 0, { retain: true });
    pub.publish('k2', 'kept too', 0, { retain: true });
    const after = new Harness({ 'max-retained-messages': 1 }, { kv, time: h.platform.time + 20_000 });
    assert.equal(after.server.retained.size, 1);
    assert.equal(kv.keys('retained').length, 1);
    assert.ok(
      after.platform.logs.some((l) => /restored 0 sessions holding 0 messages, and 1 retained messages \(2 stored entries could not be used/.test(l.message)),
    );
  });
});

describe('persist and the grant', () => {
  it('"auto" keeps what the grant allows: retained only when only "retained" is granted', () => {
    const kv = new MemoryKeyValue(['retained']);
    const h = new Harness({}, { kv });
    offlineSubscriber(h, 'sub', 't');
    h.connect('pub').publish('t', 'r', 0, { retain: true });
    assert.deepEqual(kv.keys('sessions'), []);
    assert.equal(kv.keys('retained').length, 1);
    const after = h.restart();
    assert.ok(!after.server.sessions.has('sub'));
    assert.equal(after.server.retained.size, 1);
  });

  it('"auto" without a grant keeps nothing and says so; "on" without one fails to start; "off" keeps nothing', () => {
    const none = new Harness({}, { kv: new MemoryKeyValue([]) });
    assert.ok(none.platform.logs.some((l) => l.level === 'info' && /no key-value bucket is granted/.test(l.message)));
    assert.throws(() => new Harness({ persist: true }, { kv: new MemoryKeyValue(['retained']) }), /persist: key-value bucket "sessions": denied/);
    const kv = new MemoryKeyValue();
    const off = new Harness({ persist: false }, { kv });
    offlineSubscriber(off, 'sub', 't');
    assert.deepEqual(kv.calls, {});
  });
});

describe('what the store reads back defensively', () => {
  it('deletes pieces of sessions that have no record, and values that do not decode', () => {
    const kv = new MemoryKeyValue();
    const h = new Harness({}, { kv });
    offlineSubscriber(h, 'sub', 't');
    h.connect('pub').publish('t', 'kept', 1, { packetId: 1 });
    const sessions = kv.buckets.get('sessions')!;
    sessions.set('m/99/1', new Uint8Array([1, 2, 3]));
    sessions.set('u/99/1', new Uint8Array([1]));
    sessions.set('nonsense', new Uint8Array());
    const [m] = sessionKeys(kv, 'm/');
    sessions.set(m.replace(/\/\d+$/, '/50'), new Uint8Array([9, 9]));
    kv.buckets.get('retained')!.set('x', new Uint8Array());
    const after = h.restart();
    assert.ok(after.platform.logs.some((l) => /\(5 stored entries could not be used and were deleted\)/.test(l.message)));
    assert.deepEqual(
      publishes(reconnect(after, 'sub').packets).map(([, p]) => p),
      ['kept'],
    );
    assert.ok(!kv.keys('sessions').some((k) => k.includes('/99/') || k === 'nonsense'));
    // New sessions take ids past every one seen, so that no leftover is taken for theirs.
    offlineSubscriber(after, 'later', 't');
    assert.ok(sessionKeys(kv, 's/').some((k) => Number(k.slice(2)) >= 100));
  });
});
