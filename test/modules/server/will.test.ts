import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePublish } from '../../../modules/server/src/codec/serializer.ts';
import { enc, Harness, publishes, will } from './harness.ts';

function setup(w = will('clients/a/status', 'offline', 1)) {
  const h = new Harness();
  const watcher = h.connect('watcher');
  watcher.subscribe('clients/#', 1);
  const a = h.connect('a', { will: w, keepalive: 10 });
  return { h, watcher, a };
}

describe('will message', () => {
  it('is published when the connection drops without DISCONNECT [MQTT-3.1.2-8]', () => {
    const { h, watcher, a } = setup();
    a.drop();
    assert.deepEqual(publishes(watcher.packets()), [['clients/a/status', 'offline', 1, false, false]]);
    assert.deepEqual(h.platform.busPublished, [{ topic: 'clients/a/status', payload: 'offline' }]);
  });

  it('is published on a keep alive timeout', () => {
    const { h, watcher } = setup();
    h.advance(16_000);
    assert.deepEqual(publishes(watcher.packets()), [['clients/a/status', 'offline', 1, false, false]]);
  });

  it('is published on a protocol error', () => {
    const { watcher, a } = setup();
    a.write(encodePublish(enc('bad/#'), enc('x'), 0, false, false));
    assert.ok(a.closedByServer);
    assert.deepEqual(publishes(watcher.packets()), [['clients/a/status', 'offline', 1, false, false]]);
  });

  it('is discarded on DISCONNECT [MQTT-3.14.4-3]', () => {
    const { h, watcher, a } = setup();
    a.disconnect();
    a.drop();
    assert.deepEqual(watcher.packets(), []);
    assert.deepEqual(h.platform.busPublished, []);
  });

  it('is published once, not again when the host reports the close', () => {
    const { watcher, a } = setup();
    a.write(Uint8Array.of(0x20, 0x02, 0, 0)); // CONNACK from a client: protocol error
    a.drop();
    assert.equal(publishes(watcher.packets()).length, 1);
  });

  it('is published when another connection takes over the client id', () => {
    const { h, watcher } = setup();
    h.connect('a');
    assert.deepEqual(publishes(watcher.packets()), [['clients/a/status', 'offline', 1, false, false]]);
  });

  it('is retained when it asks to be', () => {
    const { h, a } = setup(will('clients/a/status', 'offline', 0, true));
    a.drop();
    const late = h.connect('late');
    late.subscribe('clients/+/status');
    assert.deepEqual(publishes(late.pendingAfterSuback), [['clients/a/status', 'offline', 0, true, false]]);
  });

  it('obeys the publish ACL', () => {
    const h = new Harness({ acl: { publish: ['allowed/#'], subscribe: ['#'] } });
    const watcher = h.connect('watcher');
    watcher.subscribe('#');
    const a = h.connect('a', { will: will('denied', 'x') });
    a.drop();
    assert.deepEqual(watcher.packets(), []);
  });

  it('is not published for a connection refused at CONNECT', () => {
    const h = new Harness({ username: 'u' });
    const watcher = h.connect('watcher', { username: 'u' });
    watcher.subscribe('#');
    const a = h.open();
    a.connect('a', { will: will('w', 'x') });
    a.drop();
    assert.deepEqual(watcher.packets(), []);
  });
});
