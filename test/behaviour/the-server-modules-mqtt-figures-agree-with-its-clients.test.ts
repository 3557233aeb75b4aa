// The server module reports its MQTT figures through edgehost:platform/metrics,
// and the host's metrics (scraped as Prometheus would, parsed by a Prometheus
// text parser) agree with what real MQTT.js clients did: how many are
// connected, what they subscribed, what they published at each QoS, what the
// server sent them, the retained messages it keeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { startHost } from '../support/in-process-host.ts';
import { server } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';
import { type Scrape, scrapeUntil } from '../support/prometheus.ts';

const F = 'edgehost_guest_mqtt_';
const figures = ['clients_connected', 'sessions', 'subscriptions', 'retained_messages', 'messages_received_total', 'messages_sent_total'].map((n) => F + n);

test("the server module's MQTT figures in the host's metrics agree with what its clients did", async () => {
  const port = await freePort();
  const h = await startHost({ server: server(`127.0.0.1:${port}`) });
  const url = `mqtt://127.0.0.1:${port}`;
  const clients: mqtt.MqttClient[] = [];
  const connect = async (clientId: string) => {
    const c = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  };
  try {
    const sub = await connect('sub');
    let received = 0;
    let allArrived: () => void;
    const arrived = new Promise<void>((resolve) => (allArrived = resolve));
    sub.on('message', () => {
      if (++received === 13) allArrived();
    });
    await sub.subscribeAsync({ 'm/#': { qos: 2 }, 'n/#': { qos: 0 } });
    const a = await connect('pub-a');
    const b = await connect('pub-b');
    for (let i = 0; i < 5; i++) await a.publishAsync('m/a', `q0-${i}`, { qos: 0 });
    for (let i = 0; i < 4; i++) await a.publishAsync('m/a', `q1-${i}`, { qos: 1 });
    for (let i = 0; i < 3; i++) await b.publishAsync('m/b', `q2-${i}`, { qos: 2 });
    // Retained, on topics nobody subscribed to: kept, not sent.
    await b.publishAsync('r/x', 'rx', { qos: 1, retain: true });
    await b.publishAsync('r/y', 'ry', { qos: 1, retain: true });
    // A QoS 1 message to a QoS 0 subscription goes out at QoS 0.
    await b.publishAsync('n/1', 'n1', { qos: 1 });

    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      arrived,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the subscriber got ${received} of 13 messages in 10 s`)), 10_000))),
    ]).finally(() => clearTimeout(timer));

    const labels = { module: 'server' };
    const agrees = (s: Scrape) =>
      s.value(`${F}clients_connected`, labels) === 3 &&
      s.value(`${F}messages_received_total`, { ...labels, qos: '1' }) === 7 &&
      s.value(`${F}messages_sent_total`, { ...labels, qos: '0' }) === 6;
    const s = await scrapeUntil(h.host, agrees, 'the figures of 3 clients and 15 messages', figures);
    assert.equal(s.value(`${F}clients_connected`, labels), 3);
    assert.equal(s.value(`${F}sessions`, labels), 3);
    assert.equal(s.value(`${F}subscriptions`, labels), 2);
    assert.equal(s.value(`${F}retained_messages`, labels), 2);
    assert.equal(s.value(`${F}retained_bytes`, labels), 'r/x'.length + 'rx'.length + 'r/y'.length + 'ry'.length);
    assert.deepEqual(
      s.samples(`${F}messages_received_total`).map((x) => [x.labels.qos, x.value]),
      [
        ['0', 5],
        ['1', 7],
        ['2', 3],
      ],
    );
    assert.deepEqual(
      s.samples(`${F}messages_sent_total`).map((x) => [x.labels.qos, x.value]),
      [
        ['0', 6],
        ['1', 4],
        ['2', 3],
      ],
    );
    assert.equal(s.value(`${F}messages_dropped_total`, labels), 0);
    for (const name of figures) {
      const family = s.families.find((f) => f.name === name);
      assert.equal(family?.type, name.endsWith('_total') ? 'COUNTER' : 'GAUGE', name);
      for (const m of family?.metrics ?? []) assert.equal(m.labels?.module, 'server', 'the host adds the module label');
    }

    // Clean sessions end with their connections: the gauges follow.
    await a.endAsync();
    await b.endAsync();
    const after = await scrapeUntil(h.host, (x) => x.value(`${F}clients_connected`, labels) === 1, 'one client left', figures);
    assert.equal(after.value(`${F}sessions`, labels), 1);
    assert.equal(after.value(`${F}messages_received_total`, { ...labels, qos: '1' }), 7, 'counters keep their totals');
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await h.stop();
  }
});
