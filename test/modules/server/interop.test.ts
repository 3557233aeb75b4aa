// The core against a real MQTT client library (mqtt.js) over real TCP sockets.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import { serveTcp, type TcpServer } from './tcp-adapter.ts';

let srv: TcpServer;
const clients: MqttClient[] = [];

async function client(clientId: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${srv.port}`, { clientId, protocolVersion: 4, reconnectPeriod: 0, ...options });
  clients.push(c);
  return c;
}

function nextMessage(c: MqttClient): Promise<{ topic: string; payload: string; qos: number; retain: boolean }> {
  return new Promise((resolve) =>
    c.once('message', (topic, payload, packet) => resolve({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain })),
  );
}

describe('interoperability with mqtt.js over TCP', () => {
  before(async () => {
    srv = await serveTcp();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await srv.close();
  });

  for (const qos of [0, 1, 2] as const) {
    it(`publishes and receives at QoS ${qos}`, async () => {
      const sub = await client(`sub${qos}`);
      const granted = await sub.subscribeAsync(`interop/q${qos}`, { qos });
      assert.equal(granted[0].qos, qos);
      const pub = await client(`pub${qos}`);
      const got = nextMessage(sub);
      await pub.publishAsync(`interop/q${qos}`, `hello ${qos}`, { qos });
      assert.deepEqual(await got, { topic: `interop/q${qos}`, payload: `hello ${qos}`, qos, retain: false });
      assert.ok(srv.bus.some((m) => m.topic === `interop/q${qos}` && m.payload.toString() === `hello ${qos}`));
    });
  }

  it('delivers retained messages with the retain flag', async () => {
    const pub = await client('rpub');
    await pub.publishAsync('interop/retained', 'kept', { qos: 1, retain: true });
    const sub = await client('rsub');
    const got = nextMessage(sub);
    await sub.subscribeAsync('interop/#', { qos: 1 });
    assert.deepEqual(await got, { topic: 'interop/retained', payload: 'kept', qos: 1, retain: true });
  });

  it('publishes the will when a client vanishes', async () => {
    const watcher = await client('watcher');
    await watcher.subscribeAsync('interop/will', { qos: 1 });
    const dying = await client('dying', { will: { topic: 'interop/will', payload: Buffer.from('bye'), qos: 1, retain: false } });
    const got = nextMessage(watcher);
    (dying as unknown as { stream: { destroy(): void } }).stream.destroy();
    assert.equal((await got).payload, 'bye');
  });

  it('keeps a persistent session across reconnects', async () => {
    const first = await client('persistent', { clean: false });
    await first.subscribeAsync('interop/offline', { qos: 1 });
    await first.endAsync();
    const pub = await client('offline-pub');
    await pub.publishAsync('interop/offline', 'while away', { qos: 1 });
    const again = mqtt.connect(`mqtt://127.0.0.1:${srv.port}`, { clientId: 'persistent', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(again);
    // The queued message follows CONNACK in the same segment: listen before connecting completes.
    const got = nextMessage(again);
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => again.once('connect', resolve));
    assert.equal(connack.sessionPresent, true);
    assert.equal((await got).payload, 'while away');
  });

  it('answers pings (keep alive 1 s) and keeps the client connected', async () => {
    const c = await client('pinger', { keepalive: 1 });
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(c.connected, true);
  });
});
