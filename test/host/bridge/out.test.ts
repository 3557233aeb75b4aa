// The out path against a fake MQTT.js client: what it sends, in which order, how many at a
// time, what it sends again after a lost connection, and what a refusal does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import type { ResolvedBridge } from '../../../host/bridge/config.ts';
import { OutPath } from '../../../host/bridge/out.ts';
import { Bus, DurableStore } from '../../../host/bus/bus.ts';
import { tempDir } from '../../support/paths.ts';

interface Sent {
  topic: string;
  payload: string;
  qos: number;
  origin?: string;
  ack(error?: Error): void;
}

/**
 * The part of MqttClient the out path uses; `sent` records each publish with a function that
 * acknowledges it, and `published()` resolves at the next publish.
 */
function fakeClient(receiveMaximum?: number) {
  const sent: Sent[] = [];
  let waiting: ((s: Sent) => void) | undefined;
  const client = {
    serverProperties: receiveMaximum === undefined ? undefined : { receiveMaximum },
    publish(topic: string, payload: Buffer, opts: { qos: number; properties?: { userProperties?: Record<string, string> } }, cb: (err?: Error) => void) {
      const s: Sent = { topic, payload: payload.toString(), qos: opts.qos, origin: opts.properties?.userProperties?.['edgehost-origin'], ack: (e) => cb(e) };
      sent.push(s);
      waiting?.(s);
      waiting = undefined;
    },
  };
  const published = () => new Promise<Sent>((resolve) => (waiting = resolve));
  return { client: client as unknown as MqttClient, sent, published };
}

function setup(extra: Partial<ResolvedBridge['delivery']> = {}) {
  const store = new DurableStore(`${tempDir()}/queues.sqlite`);
  const bus = new Bus({ store });
  const spec = {
    name: 'cloud',
    clientId: 'host-a',
    out: [{ filter: 'telemetry/#', localPrefix: '', remotePrefix: 'site/a/', qos: 1 as const }],
    in: [],
    delivery: { maxBatch: 100, maxInFlight: 100, capacity: 1000, capacityBytes: 1 << 20, overflow: 'drop-oldest' as const, ...extra },
  } as unknown as ResolvedBridge;
  const out = new OutPath(bus, spec, pino({ level: 'silent' }));
  const publish = (n: number, from = 'telemetry') => {
    for (let i = 1; i <= n; i++) bus.publish(`telemetry/d${i}`, Buffer.from(String(i)), from);
  };
  return { bus, store, out, publish };
}

const tick = () => new Promise((r) => setImmediate(r));

test('nothing leaves before a connection; then every message goes to its remote topic, with the origin, and leaves the queue once acknowledged', async () => {
  const { out, publish, store } = setup();
  publish(3);
  await tick();
  assert.deepEqual(out.stats(), { queued: 3, inFlight: 0, sent: 0, dropped: 0 });
  const { client, sent } = fakeClient();
  out.attach(client, 5);
  await tick();
  assert.deepEqual(
    sent.map((s) => [s.topic, s.payload, s.qos, s.origin]),
    [
      ['site/a/telemetry/d1', '1', 1, 'host-a'],
      ['site/a/telemetry/d2', '2', 1, 'host-a'],
      ['site/a/telemetry/d3', '3', 1, 'host-a'],
    ],
  );
  assert.equal(out.stats().inFlight, 3);
  for (const s of sent) s.ack();
  await out.idle();
  assert.deepEqual(out.stats(), { queued: 0, inFlight: 0, sent: 3, dropped: 0 });
  out.close();
  store.close();
});

test('after a lost connection what was not acknowledged is sent again first, in order, then the queue goes on', async () => {
  const { out, publish, store } = setup();
  const first = fakeClient();
  out.attach(first.client, 5);
  publish(4);
  await tick();
  assert.equal(first.sent.length, 4);
  first.sent[0].ack();
  first.sent[2].ack();
  out.detach();
  publish(1); // telemetry/d1 again, queued behind the batch in flight
  first.sent[1].ack(); // a late PUBACK from the dead connection is ignored
  const second = fakeClient();
  out.attach(second.client, 5);
  await tick();
  assert.deepEqual(
    second.sent.map((s) => s.topic),
    ['site/a/telemetry/d2', 'site/a/telemetry/d4'],
  );
  for (const s of second.sent.splice(0)) s.ack();
  await tick();
  assert.deepEqual(
    second.sent.map((s) => s.topic),
    ['site/a/telemetry/d1'],
  );
  second.sent[0].ack();
  await out.idle();
  assert.equal(out.stats().sent, 5);
  out.close();
  store.close();
});

test('no more in flight than maxInFlight, nor than the broker’s MQTT 5 Receive Maximum', async () => {
  for (const [maxInFlight, receiveMaximum, window] of [
    [2, undefined, 2],
    [100, 3, 3],
  ] as const) {
    const { out, publish, store } = setup({ maxInFlight });
    const { client, sent } = fakeClient(receiveMaximum);
    out.attach(client, 5);
    publish(7);
    await tick();
    assert.equal(sent.length, window);
    sent[0].ack();
    assert.equal(sent.length, window + 1, 'one acknowledgement lets one more go');
    let acked = 1;
    while (acked < sent.length) sent[acked++].ack();
    await out.idle();
    assert.deepEqual(
      sent.map((s) => s.payload),
      ['1', '2', '3', '4', '5', '6', '7'],
    );
    out.close();
    store.close();
  }
});

test('messages another bridge brought in are not sent; those this bridge brought in do not even queue', async () => {
  const { out, publish, store } = setup();
  const { client, sent } = fakeClient();
  out.attach(client, 5);
  publish(1, 'bridge:other');
  publish(1, 'bridge:cloud');
  publish(1, 'gateway');
  await tick();
  assert.deepEqual(
    sent.map((s) => s.payload),
    ['1'],
  );
  sent[0].ack();
  await out.idle();
  assert.equal(out.stats().sent, 1);
  out.close();
  store.close();
});

test('a publish the broker refuses (PUBACK reason code >= 0x80) stays at the head and is retried, alone, in order', async () => {
  const { out, publish, store } = setup();
  const { client, sent, published } = fakeClient();
  out.attach(client, 5);
  publish(2);
  await tick();
  sent[1].ack();
  const next = published();
  sent[0].ack(Object.assign(new Error('Publish error: Not authorized'), { code: 135 }));
  // The bus retries the batch after its backoff (1 s), one message at a time.
  const retried = await next;
  assert.equal(retried.payload, '1');
  retried.ack();
  await tick();
  assert.equal(sent[3].payload, '2');
  sent[3].ack();
  await out.idle();
  out.close();
  store.close();
});
