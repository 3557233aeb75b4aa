import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePublish } from '../../../modules/server/src/codec/serializer.ts';
import { enc, Harness, publishes } from './harness.ts';

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
