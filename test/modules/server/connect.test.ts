import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytes, enc, Harness, publishes, will } from './harness.ts';

const connectWire = (name: string, level: number) => {
  const n = enc(name);
  return bytes([0x10, 2 + n.length + 1 + 1 + 2 + 2 + 1, 0, n.length], n, [level, 0x02, 0, 0, 0, 1, 0x61]);
};

describe('CONNECT', () => {
  it('accepts MQTT 3.1.1 with CONNACK 0 and no session present', () => {
    const h = new Harness();
    const c = h.open();
    assert.deepEqual(c.connect('a'), { type: 'connack', sessionPresent: false, returnCode: 0 });
    assert.equal(c.closedByServer, false);
  });

  for (const [name, level] of [
    ['MQTT', 3],
    ['MQTT', 6],
    ['MQIsdp', 3],
  ] as const) {
    it(`answers ${name} level ${level} with 0x01 and closes [MQTT-3.1.2-2]`, () => {
      const h = new Harness();
      const c = h.open();
      c.write(connectWire(name, level));
      assert.deepEqual(c.one(), { type: 'connack', sessionPresent: false, returnCode: 1 });
      assert.ok(c.closedByServer);
    });
  }

  it('closes without CONNACK for an unknown protocol name [MQTT-3.1.2-1]', () => {
    const h = new Harness();
    const c = h.open();
    c.write(connectWire('HTTP', 4));
    assert.deepEqual(c.packets(), []);
    assert.ok(c.closedByServer);
  });

  it('closes a connection whose first packet is not CONNECT [MQTT-3.1.0-1]', () => {
    const h = new Harness();
    const c = h.open();
    c.send({ type: 'pingreq' });
    assert.deepEqual(c.packets(), []);
    assert.ok(c.closedByServer);
  });

  it('closes on a second CONNECT [MQTT-3.1.0-2] and publishes the will', () => {
    const h = new Harness();
    const watcher = h.connect('w');
    watcher.subscribe('will/#');
    const c = h.connect('a', { will: will('will/a', 'gone') });
    c.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 4, supported: true, clean: true, keepalive: 0, clientId: 'a' });
    assert.deepEqual(c.packets(), []);
    assert.ok(c.closedByServer);
    assert.deepEqual(publishes(watcher.packets()), [['will/a', 'gone', 0, false, false]]);
  });

  it('ignores what follows a refused CONNECT in the same data event', () => {
    const h = new Harness();
    const c = h.open();
    c.write(bytes(connectWire('MQTT', 6), [0xc0, 0x00]));
    assert.deepEqual(c.packets(), [{ type: 'connack', sessionPresent: false, returnCode: 1 }]);
  });

  it('processes CONNECT and the packets after it in one data event', () => {
    const h = new Harness();
    const c = h.open();
    c.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 4, supported: true, clean: true, keepalive: 0, clientId: 'a' }, { type: 'pingreq' });
    assert.deepEqual(
      c.packets().map((p) => p.type),
      ['connack', 'pingresp'],
    );
    assert.equal(h.platform.sendCalls, 1, 'both answers go out in one send');
  });

  it('gives an empty client id with clean session 1 a unique id [MQTT-3.1.3-6]', () => {
    const h = new Harness();
    h.connect('');
    h.connect('');
    assert.equal(h.server.clients.size, 2);
    for (const id of h.server.clients.keys()) assert.match(id, /^edgehost-/);
  });

  it('refuses an empty client id with clean session 0 with 0x02 [MQTT-3.1.3-8]', () => {
    const h = new Harness();
    const c = h.open();
    assert.deepEqual(c.connect('', { clean: false }), { type: 'connack', sessionPresent: false, returnCode: 2 });
    assert.ok(c.closedByServer);
  });

  it('accepts long client ids with any characters', () => {
    const h = new Harness();
    h.connect('ü/#+'.repeat(100));
  });

  it('closes on a will topic with a wildcard', () => {
    const h = new Harness();
    const c = h.open();
    c.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 4, supported: true, clean: true, keepalive: 0, clientId: 'a', will: will('a/#', 'x') });
    assert.deepEqual(c.packets(), []);
    assert.ok(c.closedByServer);
  });

  it('closes the older connection of a client id taken over [MQTT-3.1.4-2]', () => {
    const h = new Harness();
    const first = h.connect('same');
    const second = h.connect('same');
    assert.ok(first.closedByServer);
    assert.equal(second.closedByServer, false);
    assert.equal(h.server.clients.get('same')?.id, second.id);
    // The old socket's late close does not disturb the new connection.
    first.drop();
    second.send({ type: 'pingreq' });
    assert.deepEqual(second.one(), { type: 'pingresp' });
  });

  it('times out a connection that sends no CONNECT', () => {
    const h = new Harness({ 'connect-timeout-ms': 5000 });
    const c = h.open();
    h.advance(4000);
    assert.equal(c.closedByServer, false);
    h.advance(2000);
    assert.ok(c.closedByServer);
  });
});

describe('CONNECT: user name and password', () => {
  const config = { username: 'alice', password: 's3cret' };

  it('accepts the configured credentials', () => {
    const h = new Harness(config);
    h.connect('a', { username: 'alice', password: enc('s3cret') });
  });

  it('refuses a wrong password with 0x04', () => {
    const h = new Harness(config);
    const c = h.open();
    assert.deepEqual(c.connect('a', { username: 'alice', password: enc('s3cre') }), { type: 'connack', sessionPresent: false, returnCode: 4 });
    assert.ok(c.closedByServer);
  });

  it('refuses a wrong user name with 0x04', () => {
    const h = new Harness(config);
    assert.equal((h.open().connect('a', { username: 'bob', password: enc('s3cret') }) as { returnCode: number }).returnCode, 4);
  });

  it('refuses a missing password with 0x04', () => {
    const h = new Harness(config);
    assert.equal((h.open().connect('a', { username: 'alice' }) as { returnCode: number }).returnCode, 4);
  });

  it('refuses a client without credentials with 0x05', () => {
    const h = new Harness(config);
    const c = h.open();
    assert.deepEqual(c.connect('a'), { type: 'connack', sessionPresent: false, returnCode: 5 });
    assert.ok(c.closedByServer);
  });

  it('checks only the user name when no password is configured', () => {
    const h = new Harness({ username: 'alice' });
    h.connect('a', { username: 'alice' });
    h.connect('b', { username: 'alice', password: enc('anything') });
  });

  it('lets anyone in when no user name is configured', () => {
    const h = new Harness();
    h.connect('a', { username: 'whoever', password: enc('x') });
  });
});

describe('CONNECT: max-connections', () => {
  it('refuses one client too many with 0x03, then closes', () => {
    const h = new Harness({ 'max-connections': 2 });
    h.connect('a');
    h.connect('b');
    const c = h.open();
    assert.deepEqual(c.connect('c'), { type: 'connack', sessionPresent: false, returnCode: 3 });
    assert.ok(c.closedByServer);
  });

  it('still lets a full server take over a connected client id', () => {
    const h = new Harness({ 'max-connections': 1 });
    h.connect('a');
    h.connect('a');
  });

  it('frees the slot when a client leaves', () => {
    const h = new Harness({ 'max-connections': 1 });
    const a = h.connect('a');
    a.disconnect();
    a.drop();
    h.connect('b');
  });
});
