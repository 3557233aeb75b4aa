import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BusMessage } from '../../../../host/bus/bus.ts';
import { type PubsubOps, pubsubGrant } from '../../../../host/capabilities/pubsub/index.ts';
import { forEachPacked, pack } from '../../../../host/capabilities/pubsub/packed.ts';
import { bind } from '../../../../host/capabilities/pubsub/service.ts';
import { deliveryOptions } from '../../../../host/config/schema.ts';
import { fakeService } from '../../../support/capability-fakes.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const entry = (subscriptions: string[], delivery: Record<string, unknown> = {}) => ({ subscriptions, delivery: deliveryOptions.parse(delivery) });

interface Delivered {
  topic: string;
  payload: Uint8Array;
  publishedAt: number;
}

function setup(subscriptions: string[], deliver: (batch: Delivered[]) => Promise<void> | void = () => {}) {
  const delivered: Delivered[][] = [];
  const f = fakeService<PubsubOps>('m', {
    entry: entry(subscriptions),
    toWorker: {
      deliver: async (packed) => {
        const batch: Delivered[] = [];
        forEachPacked(packed, (topic, payload, publishedAt) => batch.push({ topic, payload, publishedAt }));
        delivered.push(batch);
        await deliver(batch);
      },
    },
  });
  const binding = bind(f.host, f.module, pubsubGrant.parse({ subscribe: ['#'] }));
  return { ...f, binding, delivered, bus: f.host.bus };
}

test('declared subscriptions queue messages before the instance is ready; they are delivered once it is', async () => {
  const s = setup(['a/#']);
  s.bus.publish('a/1', bytes('x'));
  s.bus.publish('b/1', bytes('y'));
  await new Promise((r) => setImmediate(r));
  assert.equal(s.delivered.length, 0);
  s.binding.instanceReady?.(1);
  await s.bus.subscriber('m')!.idle();
  assert.deepEqual(
    s.delivered.flat().map((m) => m.topic),
    ['a/1'],
  );
});

test("the worker's packed publishes reach the bus in order, each payload a copy of its own", async () => {
  const s = setup([]);
  const seen: BusMessage[] = [];
  s.bus
    .addSubscriber('other', { ...deliveryOptions.parse({}) }, async (batch) => {
      seen.push(...batch);
    })
    .subscribe('#');
  s.binding.handlers.publish(
    pack(
      [
        { topic: 't/1', payload: bytes('1') },
        { topic: 't/2', payload: bytes('2') },
      ],
      false,
    ).args,
  );
  assert.equal(s.bus.published, 2);
  await s.bus.subscriber('other')!.idle();
  assert.deepEqual(
    seen.map((m) => [m.topic, new TextDecoder().decode(m.payload), m.payload.buffer.byteLength]),
    [
      ['t/1', '1', 1],
      ['t/2', '2', 1],
    ],
  );
});

test('a failed delivery is retried after the instance ends and a new one is ready', async () => {
  let fail = true;
  const s = setup(['a'], () => {
    if (fail) throw new Error('handler said no');
  });
  s.binding.instanceReady?.(1);
  s.bus.publish('a', bytes('x'));
  await new Promise((r) => setTimeout(r, 20));
  s.binding.instanceEnded?.(1, 'crash');
  fail = false;
  s.binding.instanceReady?.(2);
  await s.bus.subscriber('m')!.idle();
  assert.equal(s.delivered.length >= 2, true);
  assert.equal(s.bus.subscriber('m')!.stats().delivered, 1);
});

test('drain stops new messages but delivers the queued ones', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const s = setup(['a'], () => gate);
  s.binding.instanceReady?.(1);
  s.bus.publish('a', bytes('1'));
  s.bus.publish('a', bytes('2'));
  const drained = s.binding.drain!();
  s.bus.publish('a', bytes('3'));
  release();
  await drained;
  assert.deepEqual(
    s.delivered.flat().map((m) => new TextDecoder().decode(m.payload)),
    ['1', '2'],
  );
});

test('close removes the subscriber from the bus', () => {
  const s = setup(['a']);
  s.binding.close?.();
  assert.equal(s.bus.subscriber('m'), undefined);
});
