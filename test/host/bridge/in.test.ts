// The in path with a real bus and store and a fake client: a message is acknowledged only
// after it is on the bus and committed; echoes and strays are acknowledged and dropped; one
// the bus cannot take is not acknowledged, and the connection is closed so the broker resends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IPublishPacket, MqttClient } from 'mqtt';
import pino from 'pino';
import type { ResolvedBridge } from '../../../host/bridge/config.ts';
import { InPath } from '../../../host/bridge/in.ts';
import { Bus, type BusMessage, DurableStore } from '../../../host/bus/bus.ts';
import { tempDir } from '../../support/paths.ts';

function setup() {
  const store = new DurableStore(`${tempDir()}/queues.sqlite`);
  const bus = new Bus({ store });
  const got: BusMessage[] = [];
  const options = {
    maxBatch: 10,
    lingerMs: 0,
    capacity: 100,
    capacityBytes: 1 << 20,
    overflow: 'drop-oldest',
    noLocal: false,
    retryInitialMs: 10,
    retryMaxMs: 10,
    maxAttempts: 0,
    ttlMs: 0,
    durable: true,
  } as const;
  const subscriber = bus.addSubscriber('gateway', options, async (batch) => {
    got.push(...batch);
  });
  subscriber.subscribe('#');
  subscriber.pause(); // what arrives stays queued (on disk), for the checks
  const events: string[] = [];
  const spec = {
    name: 'cloud',
    in: [{ filter: 'cmd/#', localPrefix: 'remote/', remotePrefix: 'site/a/', qos: 1 }],
  } as unknown as ResolvedBridge;
  const path = new InPath(bus, spec, {
    commit: () => {
      events.push('commit');
      bus.commit();
    },
    logger: pino({ level: 'silent' }),
    ownClientIds: new Set(['host-a']),
  });
  let ended = false;
  const client = {
    end: () => {
      ended = true;
    },
  } as unknown as MqttClient;
  const packet = (topic: string, payload: string, origin?: string) =>
    ({
      cmd: 'publish',
      topic,
      payload: Buffer.from(payload),
      qos: 1,
      dup: false,
      retain: false,
      messageId: 1,
      properties: origin ? { userProperties: { 'edgehost-origin': origin } } : undefined,
    }) as IPublishPacket;
  const handle = (p: IPublishPacket) => path.handle(client, p, () => events.push(`ack ${p.topic}`));
  return { bus, store, subscriber, path, events, handle, packet, ended: () => ended };
}

test('a message goes on the bus at its local topic, published by the bridge, committed, then acknowledged', () => {
  const { subscriber, events, handle, packet, store, path } = setup();
  handle(packet('site/a/cmd/reboot', 'now'));
  assert.deepEqual(events, ['commit', 'ack site/a/cmd/reboot']);
  assert.equal(subscriber.stats().queued, 1);
  assert.deepEqual(path.stats(), { received: 1, echoesDropped: 0, dropped: 0 });
  store.close();
});

test('what this host sent (its origin) and what no rule matches are acknowledged and dropped', () => {
  const { subscriber, events, handle, packet, store, path } = setup();
  handle(packet('site/a/cmd/x', 'echo', 'host-a'));
  handle(packet('elsewhere/y', 'stray'));
  handle(packet('site/a/cmd/z', 'from b', 'host-b'));
  assert.deepEqual(events, ['ack site/a/cmd/x', 'ack elsewhere/y', 'commit', 'ack site/a/cmd/z']);
  assert.equal(subscriber.stats().queued, 1);
  assert.deepEqual(path.stats(), { received: 1, echoesDropped: 1, dropped: 1 });
  store.close();
});

test('a message the bus cannot take is not acknowledged, and the connection is closed so that the broker sends it again', () => {
  const { events, handle, packet, store, ended } = setup();
  store.close(); // a durable queue now refuses the write
  handle(packet('site/a/cmd/x', 'lost?'));
  assert.deepEqual(events, []);
  assert.equal(ended(), true);
});

test('after close nothing more is taken in or acknowledged', () => {
  const { events, handle, packet, store, path, subscriber } = setup();
  path.close();
  handle(packet('site/a/cmd/x', 'late'));
  assert.deepEqual(events, []);
  assert.equal(subscriber.stats().queued, 0);
  store.close();
});
