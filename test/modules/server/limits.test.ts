import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePublish } from '../../../modules/server/src/codec/serializer.ts';
import { dec, enc, Harness, publishes, will } from './harness.ts';

describe('limits', () => {
  it('closes a connection sending a packet over max-packet-size, and only that one', () => {
    const h = new Harness({ 'max-packet-size': 1024 });
    const sub = h.connect('sub');
    sub.subscribe('#');
    const big = h.connect('big');
    big.write(encodePublish(enc('t'), new Uint8Array(1022), 0, false, false).subarray(0, 10));
    assert.ok(big.closedByServer, 'closed from the header alone');
    assert.equal(sub.closedByServer, false);
    assert.deepEqual(sub.packets(), []);
  });

  it('accepts a packet at max-packet-size', () => {
    const h = new Harness({ 'max-packet-size': 1024 });
    const sub = h.connect('sub');
    sub.subscribe('#');
    h.connect('c').write(encodePublish(enc('t'), new Uint8Array(1021), 0, false, false));
    assert.equal(publishes(sub.packets()).length, 1);
  });

  it('reassembles a large packet arriving in many small data events', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('t');
    const c = h.connect('c');
    const packet = encodePublish(enc('t'), new Uint8Array(200_000).fill(1), 0, false, false);
    for (let i = 0; i < packet.length; i += 1000) c.write(packet.subarray(i, i + 1000));
    const [p] = sub.packets();
    assert.equal((p as { payload: Uint8Array }).payload.length, 200_000);
  });

  it('survives a connection that is reported closed twice or data for an unknown id', () => {
    const h = new Harness();
    const c = h.connect('c');
    c.drop();
    c.drop();
    h.server.handleSocketEvents([{ tag: 'data', val: [999, Uint8Array.of(0xc0, 0)] }]);
    assert.equal(h.server.connections.size, 0);
  });

  it('sends everything for one connection of one batch in one send call', () => {
    const h = new Harness();
    const sub = h.connect('sub');
    sub.subscribe('t');
    const pub = h.connect('pub');
    const before = h.platform.sendCalls;
    pub.write(...Array.from({ length: 10 }, (_, i) => encodePublish(enc('t'), enc(`${i}`), 0, false, false)));
    assert.equal(h.platform.sendCalls - before, 1);
    assert.equal(publishes(sub.packets()).length, 10);
  });
});

const warnings = (h: Harness, limit: string) => h.platform.logs.filter((l) => l.level === 'warn' && l.message.startsWith(`limit ${limit}:`));

describe('limits: memory for partial packets', () => {
  it('grows with the bytes that arrived, not with the length the header claims', () => {
    const h = new Harness();
    const c = h.connect('c');
    // A PUBLISH claiming 262,000 bytes, of which 10 arrive.
    c.write(Uint8Array.from([0x30, 0xf0, 0xfe, 0x0f, 0, 1, 0x74, 1, 2, 3, 4, 5, 6, 7]));
    const conn = h.server.connections.get(c.id)!;
    assert.ok(conn.parser.partial);
    assert.ok(conn.parser.buffered <= 4096, `holds ${conn.parser.buffered} bytes`);
    assert.equal(h.server.partialBudget.used, conn.parser.buffered);
    c.write(new Uint8Array(20_000));
    assert.ok(conn.parser.buffered <= 2 * 20_010, `holds ${conn.parser.buffered} bytes after 20,010 arrived`);
    c.drop();
    assert.equal(h.server.partialBudget.used, 0, 'given back when the connection ends');
  });

  it('max-partial-packet-bytes: the connection that needs more is closed (5.0: 0x97), others are not, and the budget is given back', () => {
    const h = new Harness({ 'max-partial-packet-bytes': 100_000 });
    const sub = h.connect('sub');
    sub.subscribe('t');
    const first = h.connect5('first');
    first.write(Uint8Array.from([0x30, 0xf0, 0xfe, 0x0f]), new Uint8Array(60_000));
    const second = h.connect5('second');
    second.write(Uint8Array.from([0x30, 0xf0, 0xfe, 0x0f]), new Uint8Array(60_000));
    assert.equal(first.closedByServer, false);
    assert.ok(second.closedByServer);
    assert.equal((second.packets()[0] as { reasonCode?: number }).reasonCode, 0x97);
    assert.equal(warnings(h, 'max-partial-packet-bytes').length, 1);
    second.drop();
    assert.ok(h.server.partialBudget.used <= 100_000);
    h.connect('p').publish('t', 'still works');
    assert.deepEqual(publishes(sub.packets()), [['t', 'still works', 0, false, false]]);
  });
});

describe('limits: topic levels and length', () => {
  it('a PUBLISH deeper than max-topic-levels closes its connection (5.0: DISCONNECT 0x90) and logs the limit', () => {
    const h = new Harness({ 'max-topic-levels': 4 });
    const sub = h.connect('sub');
    sub.subscribe('#');
    const v3 = h.connect('v3');
    v3.publish('a/b/c/d/e', 'deep');
    assert.ok(v3.closedByServer);
    const v5 = h.connect5('v5');
    v5.publish('a/b/c/d/e', 'deep');
    assert.equal((v5.packets()[0] as { reasonCode?: number }).reasonCode, 0x90);
    assert.equal(warnings(h, 'max-topic-levels').length, 1, 'the second hit within a second is counted, not logged');
    h.connect('ok').publish('a/b/c/d', 'fits');
    assert.deepEqual(publishes(sub.packets()), [['a/b/c/d', 'fits', 0, false, false]]);
  });

  it('a PUBLISH topic longer than max-topic-length closes its connection', () => {
    const h = new Harness({ 'max-topic-length': 16 });
    const c = h.connect('c');
    c.publish('x'.repeat(17), 'long');
    assert.ok(c.closedByServer);
    assert.match(warnings(h, 'max-topic-length')[0].message, /longer than 16 bytes/);
  });

  it('a filter over the limits is refused in SUBACK (0x80; 5.0: 0x8F), the connection stays', () => {
    const h = new Harness({ 'max-topic-levels': 3 });
    const c = h.connect('c');
    assert.deepEqual((c.subscribe(['a/b/c/#', 'a/+/c']) as { returnCodes: number[] }).returnCodes, [0x80, 0]);
    assert.equal(c.closedByServer, false);
  });

  it('a will topic over the limits refuses the CONNECT', () => {
    const h = new Harness({ 'max-topic-levels': 2 });
    const c = h.open();
    assert.deepEqual(c.connect('c', { will: will('a/b/c', 'x') }), { type: 'connack', sessionPresent: false, returnCode: 3 });
  });
});

describe('limits: connections per address', () => {
  it('max-connections-per-address: one more client from that address is refused (0x03; 5.0: 0x97); other addresses and takeovers are not', () => {
    const h = new Harness({ 'max-connections-per-address': 2 });
    const ip = '192.0.2.7';
    const c1 = h.open({ ip });
    c1.connect('a');
    h.open({ ip }).connect('b');
    assert.deepEqual(h.open({ ip }).connect('c'), { type: 'connack', sessionPresent: false, returnCode: 3 });
    assert.equal((h.open({ ip, version: 5 }).connect('c') as { returnCode: number }).returnCode, 0x97);
    assert.equal((h.open({ ip: '192.0.2.8' }).connect('c') as { returnCode: number }).returnCode, 0);
    assert.equal((h.open({ ip }).connect('a') as { returnCode: number }).returnCode, 0, 'a takeover replaces a client of that address');
    assert.ok(c1.closedByServer);
    assert.equal(warnings(h, 'max-connections-per-address').length, 1);
  });

  it('max-pending-per-address: a connection over it is closed when it opens; a slot frees once one completes CONNECT', () => {
    const h = new Harness({ 'max-pending-per-address': 2 });
    const ip = '198.51.100.1';
    const a = h.open({ ip });
    h.open({ ip });
    const third = h.open({ ip });
    assert.ok(third.closedByServer);
    assert.equal(h.server.connections.has(third.id), false);
    assert.equal(h.open({ ip: '198.51.100.2' }).closedByServer, false, 'another address is not affected');
    a.connect('a');
    const fourth = h.open({ ip });
    assert.equal(fourth.closedByServer, false);
    assert.match(warnings(h, 'max-pending-per-address')[0].message, /2 connections from that address have not completed CONNECT/);
  });

  it('reads IPv6 and IPv4-mapped addresses as the same limits key as their IP', () => {
    const h = new Harness({ 'max-pending-per-address': 1 });
    h.server.handleSocketEvents([{ tag: 'opened', val: { id: 100, localAddress: 'x', remoteAddress: '[::ffff:203.0.113.5]:1', transport: 'tcp' } }]);
    h.server.handleSocketEvents([{ tag: 'opened', val: { id: 101, localAddress: 'x', remoteAddress: '203.0.113.5:2', transport: 'tcp' } }]);
    h.server.handleSocketEvents([{ tag: 'opened', val: { id: 102, localAddress: 'x', remoteAddress: '[2001:db8::1]:3', transport: 'tcp' } }]);
    assert.deepEqual(h.platform.closes, [101]);
  });
});

describe('limits: work per call', () => {
  it('retained messages for a subscription matching many are sent over several calls, within retained-work-per-call each', () => {
    const h = new Harness({ 'retained-work-per-call': 500 });
    const p = h.connect('p');
    for (let i = 0; i < 3000; i++) p.publish(`r/${i % 30}/${i}`, `${i}`, 0, { retain: true });
    const s = h.connect('s');
    const before = h.platform.sendCalls;
    const ack = s.subscribe(['r/+/#', '+/+/+', 'nothing/+']);
    assert.equal(ack.type, 'suback');
    const first = publishes(s.pendingAfterSuback).length;
    assert.ok(first > 0 && first < 500, `${first} sent in the SUBSCRIBE call`);
    const calls = h.settle();
    assert.ok(calls >= 10, `continued over ${calls} calls`);
    assert.equal(first + publishes(s.packets()).length, 6000, 'each filter got every retained message');
    assert.ok(h.platform.sendCalls - before > 10);
  });

  it('QoS 1 retained messages wait for acknowledgements instead of overflowing the queue', () => {
    const h = new Harness({ 'max-inflight': 10, 'max-queued-messages': 50 });
    const p = h.connect('p');
    for (let i = 0; i < 500; i++) p.publish(`r/${i}`, `${i}`, 1, { retain: true, packetId: (i % 60000) + 1 });
    const s = h.connect('s');
    s.subscribe('r/#', 1);
    const seen = new Set<string>();
    let packets = s.pendingAfterSuback;
    for (let round = 0; round < 1000 && packets.length > 0; round++) {
      for (const m of packets) {
        if (m.type !== 'publish') continue;
        seen.add(dec(m.payload));
        s.send({ type: 'puback', packetId: m.packetId! });
      }
      h.settle();
      packets = s.packets();
    }
    assert.equal(seen.size, 500);
    assert.equal(h.server.sessions.get('s')!.dropped, 0, 'nothing dropped from the queue');
  });

  it('max-subscriptions-per-client refuses more subscriptions (0x80; 5.0: 0x97)', () => {
    const h = new Harness({ 'max-subscriptions-per-client': 2 });
    const c = h.connect('c');
    assert.deepEqual((c.subscribe(['a', 'b', 'c']) as { returnCodes: number[] }).returnCodes, [0, 0, 0x80]);
    assert.deepEqual((c.subscribe(['a'], 1, 2) as { returnCodes: number[] }).returnCodes, [1], 'replacing one is not a new one');
  });

  it('max-retained-bytes: a retained message that would exceed it is not kept, and that is logged', () => {
    const h = new Harness({ 'max-retained-bytes': 100 });
    const p = h.connect('p');
    p.publish('a', 'x'.repeat(90), 0, { retain: true });
    p.publish('b', 'x'.repeat(20), 0, { retain: true });
    assert.equal(h.server.retained.size, 1);
    assert.equal(warnings(h, 'max-retained-bytes').length, 1);
  });
});
