import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Harness } from './harness.ts';

describe('keep alive [MQTT-3.1.2-24]', () => {
  it('closes a client silent for more than 1.5 × its keep alive', () => {
    const h = new Harness();
    const c = h.connect('c', { keepalive: 10 });
    h.advance(14_000);
    assert.equal(c.closedByServer, false);
    h.advance(1_001);
    assert.ok(c.closedByServer);
  });

  it('counts any packet as activity', () => {
    const h = new Harness();
    const c = h.connect('c', { keepalive: 10 });
    for (let i = 0; i < 5; i++) {
      h.advance(10_000);
      c.send({ type: 'pingreq' });
      assert.deepEqual(c.one(), { type: 'pingresp' });
    }
    assert.equal(c.closedByServer, false);
    h.advance(15_001);
    assert.ok(c.closedByServer);
  });

  it('is off with keep alive 0', () => {
    const h = new Harness();
    const c = h.connect('c', { keepalive: 0 });
    h.advance(10 * 24 * 3600_000);
    assert.equal(c.closedByServer, false);
  });

  it('closes only the silent client', () => {
    const h = new Harness();
    const quiet = h.connect('quiet', { keepalive: 1 });
    const busy = h.connect('busy', { keepalive: 1 });
    h.platform.time += 1000;
    busy.send({ type: 'pingreq' });
    h.advance(600);
    assert.ok(quiet.closedByServer);
    assert.equal(busy.closedByServer, false);
  });
});
