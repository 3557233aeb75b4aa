import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bus, type BusMessage, type QueueRoom } from '../../../host/bus/bus.ts';
import { dec, enc, flush, gate, options } from './support.ts';

const texts = (batch: BusMessage[]) => batch.map(dec);

test('delivers in publish order, one batch in flight at a time, under load', async () => {
  const bus = new Bus();
  const seen: string[] = [];
  const sizes: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let turn = 0;
  const sub = bus.addSubscriber('m', options({ maxBatch: 7 }), async (batch) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    sizes.push(batch.length);
    // Handlers take varying time, so publishes land while a batch is in flight.
    if (turn++ % 3 === 0) await flush();
    else await Promise.resolve();
    seen.push(...texts(batch));
    inFlight--;
  });
  sub.subscribe('load/#');
  const want: string[] = [];
  for (let i = 0; i < 2000; i++) {
    bus.publish(`load/${i % 5}`, enc(String(i)));
    want.push(String(i));
    if (i % 37 === 0) await flush();
  }
  await sub.idle();
  assert.deepEqual(seen, want);
  assert.equal(maxInFlight, 1);
  assert.ok(
    sizes.every((n) => n >= 1 && n <= 7),
    `batch sizes ${sizes}`,
  );
  assert.ok(
    sizes.some((n) => n === 7),
    'batches fill up under load',
  );
  assert.equal(sub.stats().delivered, 2000);
});

test('takes up to maxBatch per call, and batches grow while one is in flight', async () => {
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options({ maxBatch: 4 }), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('0'));
  const first = await g.next();
  assert.deepEqual(first.batch, ['0']);
  for (let i = 1; i <= 9; i++) bus.publish('t', enc(String(i)));
  await flush();
  assert.equal(g.calls.length, 1, 'no second batch while the first is in flight');
  assert.deepEqual(sub.stats(), {
    queued: 9,
    queuedBytes: 9,
    inFlight: 1,
    delivered: 0,
    failedDeliveries: 0,
    dropped: 0,
    filters: ['t'],
    paused: false,
    retrying: false,
    deadLettered: 0,
    attempts: 0,
  });
  first.resolve();
  (await g.next()).resolve();
  (await g.next()).resolve();
  (await g.next()).resolve();
  await sub.idle();
  assert.deepEqual(
    g.calls.map((c) => c.batch),
    [['0'], ['1', '2', '3', '4'], ['5', '6', '7', '8'], ['9']],
  );
});

test('publishes in one tick join one batch when lingerMs is 0', async () => {
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options({ maxBatch: 256 }), g.deliver);
  sub.subscribe('t');
  for (let i = 0; i < 5; i++) bus.publish('t', enc(String(i)));
  (await g.next()).resolve();
  await sub.idle();
  assert.deepEqual(
    g.calls.map((c) => c.batch),
    [['0', '1', '2', '3', '4']],
  );
});

test('linger waits until the oldest queued message is lingerMs old, or the batch is full', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options({ maxBatch: 3, lingerMs: 50 }), g.deliver);
  sub.subscribe('t');

  bus.publish('t', enc('a'));
  t.mock.timers.tick(30);
  bus.publish('t', enc('b'));
  await flush();
  t.mock.timers.tick(19);
  await flush();
  assert.equal(g.calls.length, 0, 'still lingering 49 ms after the oldest');
  t.mock.timers.tick(1);
  const first = await g.next();
  assert.deepEqual(first.batch, ['a', 'b']);
  first.resolve();
  await sub.idle();

  // A batch that fills up while lingering goes at once.
  bus.publish('t', enc('c'));
  await flush(); // the linger timer is armed now
  for (const s of ['d', 'e', 'f']) bus.publish('t', enc(s));
  const full = await g.next();
  assert.deepEqual(full.batch, ['c', 'd', 'e']);
  full.resolve();
  await flush();
  assert.equal(g.calls.length, 2, 'the remainder lingers again');
  t.mock.timers.tick(50);
  const rest = await g.next();
  assert.deepEqual(rest.batch, ['f']);
  rest.resolve();
  await sub.idle();
});

test('after a slow delivery, messages that already lingered long enough go at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 5_000 });
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options({ maxBatch: 10, lingerMs: 20 }), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('a'));
  t.mock.timers.tick(20);
  const first = await g.next();
  bus.publish('t', enc('b'));
  t.mock.timers.tick(100); // the handler is slow
  first.resolve();
  const second = await g.next();
  assert.deepEqual(second.batch, ['b']);
  second.resolve();
  await sub.idle();
});

test('a failed batch is retried one message at a time after a doubling, capped backoff; order holds', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options({ maxBatch: 2, retryInitialMs: 100, retryMaxMs: 250 }), g.deliver);
  sub.subscribe('t');
  for (const s of ['a', 'b', 'c']) bus.publish('t', enc(s));

  const expectRetryAfter = async (ms: number, index: number) => {
    await flush(); // lets the rejection arm the retry timer
    t.mock.timers.tick(ms - 1);
    await flush();
    assert.equal(g.calls.length, index, `no retry before ${ms} ms`);
    t.mock.timers.tick(1);
    return g.next();
  };

  (await g.next()).reject();
  await flush();
  assert.equal(sub.stats().failedDeliveries, 1);
  assert.equal(sub.stats().retrying, true);
  assert.equal(sub.stats().attempts, 0, 'a failed batch counts no attempt');
  bus.publish('t', enc('d')); // lands behind the failed batch
  (await expectRetryAfter(100, 1)).reject();
  await flush();
  assert.equal(sub.stats().attempts, 1, 'a message that fails alone is counted');
  (await expectRetryAfter(200, 2)).reject();
  const fourth = await expectRetryAfter(250, 3); // 400, capped
  fourth.resolve();
  await flush();
  assert.deepEqual(g.calls.at(-1)?.batch, ['b'], 'the success reset the backoff: the next message went at once');
  (await g.next()).resolve();
  (await g.next()).resolve();
  await sub.idle();
  assert.deepEqual(
    g.calls.map((c) => c.batch),
    [['a', 'b'], ['a'], ['a'], ['a'], ['b'], ['c', 'd']],
  );
  const s = sub.stats();
  assert.equal(s.failedDeliveries, 3);
  assert.equal(s.delivered, 4);
  assert.equal(s.attempts, 0);

  // A success resets the backoff.
  bus.publish('t', enc('e'));
  (await g.next()).reject();
  (await expectRetryAfter(100, 7)).resolve();
  await sub.idle();
  assert.equal(sub.stats().failedDeliveries, 4);
});

test('a deliver function that throws synchronously counts as a failed delivery', async () => {
  const bus = new Bus();
  let calls = 0;
  const got: string[] = [];
  const sub = bus.addSubscriber('m', options({ retryInitialMs: 1, retryMaxMs: 1 }), (batch) => {
    if (calls++ === 0) throw new Error('not async');
    got.push(...texts(batch));
    return Promise.resolve();
  });
  sub.subscribe('t');
  bus.publish('t', enc('x'));
  await sub.idle();
  assert.deepEqual(got, ['x']);
  assert.equal(sub.stats().failedDeliveries, 1);
});

test('pause stops new deliveries but lets the one in flight finish; resume goes on', async () => {
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options(), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('a'));
  const first = await g.next();
  sub.pause();
  bus.publish('t', enc('b'));
  bus.publish('t', enc('c'));
  let idle = false;
  const idled = sub.idle().then(() => (idle = true));
  first.resolve();
  await flush();
  await flush();
  assert.equal(g.calls.length, 1);
  assert.equal(idle, false, 'not idle while messages wait');
  assert.deepEqual(sub.stats(), {
    queued: 2,
    queuedBytes: 2,
    inFlight: 0,
    delivered: 1,
    failedDeliveries: 0,
    dropped: 0,
    filters: ['t'],
    paused: true,
    retrying: false,
    deadLettered: 0,
    attempts: 0,
  });
  sub.resume();
  assert.equal(sub.stats().paused, false);
  const second = await g.next();
  assert.deepEqual(second.batch, ['b', 'c']);
  second.resolve();
  await idled;
});

test('a subscriber created paused queues until resumed', async () => {
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options(), g.deliver);
  sub.pause();
  sub.subscribe('t');
  bus.publish('t', enc('a'));
  await flush();
  assert.equal(g.calls.length, 0);
  sub.resume();
  (await g.next()).resolve();
  await sub.idle();
  assert.deepEqual(
    g.calls.map((c) => c.batch),
    [['a']],
  );
});

test('resume retries a failed batch at once instead of waiting out its backoff', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options({ retryInitialMs: 60_000, retryMaxMs: 60_000 }), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('a'));
  const first = await g.next();
  sub.pause(); // as the supervisor does when the module crashes
  first.reject();
  await flush();
  assert.deepEqual(sub.stats(), {
    queued: 0,
    queuedBytes: 0,
    inFlight: 1,
    delivered: 0,
    failedDeliveries: 1,
    dropped: 0,
    filters: ['t'],
    paused: true,
    retrying: true,
    deadLettered: 0,
    attempts: 1,
  });
  sub.resume();
  const retry = await g.next();
  assert.deepEqual(retry.batch, ['a']);
  // Also when the retry timer was already running before the pause.
  retry.reject();
  await flush();
  sub.pause();
  sub.resume();
  const again = await g.next();
  assert.deepEqual(again.batch, ['a']);
  again.resolve();
  await sub.idle();
  assert.equal(sub.stats().failedDeliveries, 2);
});

test('drop-oldest drops the oldest queued message, never the batch in flight', async () => {
  const dropped: [string, string][] = [];
  const bus = new Bus({ onOverflow: (id, m) => dropped.push([id, dec(m)]) });
  const g = gate();
  const sub = bus.addSubscriber('m', options({ capacity: 3, overflow: 'drop-oldest' }), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('1'));
  const first = await g.next();
  for (const s of ['2', '3', '4', '5', '6']) bus.publish('t', enc(s));
  assert.deepEqual(dropped, [
    ['m', '2'],
    ['m', '3'],
  ]);
  assert.equal(sub.stats().dropped, 2);
  assert.equal(sub.stats().queued, 3);
  first.resolve();
  (await g.next()).resolve();
  await sub.idle();
  assert.deepEqual(
    g.calls.map((c) => c.batch),
    [['1'], ['4', '5', '6']],
  );
});

test('drop-newest drops the incoming message', async () => {
  const dropped: string[] = [];
  const bus = new Bus({ onOverflow: (_, m) => dropped.push(dec(m)) });
  const g = gate();
  const sub = bus.addSubscriber('m', options({ capacity: 3, overflow: 'drop-newest' }), g.deliver);
  sub.pause();
  sub.subscribe('t');
  for (const s of ['1', '2', '3', '4', '5']) bus.publish('t', enc(s));
  assert.deepEqual(dropped, ['4', '5']);
  assert.equal(sub.stats().dropped, 2);
  sub.resume();
  (await g.next()).resolve();
  await sub.idle();
  assert.deepEqual(
    g.calls.map((c) => c.batch),
    [['1', '2', '3']],
  );
});

test('a batch waiting for its retry does not count against capacity', async () => {
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options({ capacity: 2, overflow: 'drop-newest', retryInitialMs: 1, retryMaxMs: 1 }), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('1'));
  bus.publish('t', enc('2'));
  (await g.next()).reject();
  bus.publish('t', enc('3'));
  bus.publish('t', enc('4'));
  bus.publish('t', enc('5'));
  assert.equal(sub.stats().dropped, 1);
  (await g.next()).resolve();
  (await g.next()).resolve();
  (await g.next()).resolve();
  await sub.idle();
  assert.deepEqual(
    g.calls.map((c) => c.batch),
    [['1', '2'], ['1'], ['2'], ['3', '4']],
  );
});

test('idle() resolves at once when nothing is queued, and after the queue drains otherwise', async () => {
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options(), g.deliver);
  await sub.idle();
  sub.subscribe('t');
  bus.publish('t', enc('a'));
  let idle = false;
  const idled = sub.idle().then(() => (idle = true));
  const call = await g.next();
  await flush();
  assert.equal(idle, false);
  call.resolve();
  await idled;
});

test('capacityBytes bounds the queued payload bytes: drop-oldest drops until the new message fits, and one message larger than it is dropped', async () => {
  const dropped: string[] = [];
  const bus = new Bus({ onOverflow: (_, m) => dropped.push(dec(m)) });
  const g = gate();
  const sub = bus.addSubscriber('m', options({ capacity: 100, capacityBytes: 10, overflow: 'drop-oldest' }), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('in-flight'));
  const first = await g.next();
  for (const s of ['aaaa', 'bbbb', 'cccc']) bus.publish('t', enc(s));
  assert.deepEqual(dropped, ['aaaa']);
  assert.deepEqual([sub.stats().queued, sub.stats().queuedBytes], [2, 8]);
  bus.publish('t', enc('x'.repeat(11)));
  assert.deepEqual(dropped, ['aaaa', 'x'.repeat(11)]);
  first.resolve();
  (await g.next()).resolve();
  await sub.idle();
  assert.deepEqual(
    g.calls.map((c) => c.batch),
    [['in-flight'], ['bbbb', 'cccc']],
  );
  assert.equal(sub.stats().queuedBytes, 0);
});

test('block keeps every message past the capacity and reports the room left: when it runs out, per eighth of the capacity, and when it comes back', async () => {
  const reports: [string, QueueRoom | undefined][] = [];
  const bus = new Bus();
  bus.watchRoom((id, room) => reports.push([id, room]));
  const g = gate();
  const sub = bus.addSubscriber('m', options({ capacity: 4, capacityBytes: 1000, overflow: 'block', maxBatch: 1 }), g.deliver);
  sub.subscribe('t');
  assert.deepEqual(reports, [['m', { bytes: 1000, messages: 4 }]]);
  for (const s of ['1', '2', '3', '4', '5', '6']) bus.publish('t', enc(s));
  // One is in flight; five are queued, past the capacity of four: nothing dropped.
  const first = await g.next();
  assert.equal(sub.stats().dropped, 0);
  assert.deepEqual(bus.rooms(), [{ id: 'm', filters: ['t'], room: { bytes: 995, messages: 0 } }]);
  // Each message is a quarter of the capacity in count: every one was reported, down to none left.
  assert.deepEqual(
    reports.map(([, r]) => r?.messages),
    [4, 3, 2, 1, 0],
  );
  first.resolve();
  (await g.next()).resolve();
  (await g.next()).resolve();
  await flush();
  assert.deepEqual(reports.at(-1), ['m', { bytes: 998, messages: 2 }]);
  for (let i = 0; i < 3; i++) (await g.next()).resolve();
  await sub.idle();
  assert.deepEqual(
    g.calls.map((c) => c.batch.join()),
    ['1', '2', '3', '4', '5', '6'],
  );
  bus.removeSubscriber('m');
  assert.deepEqual(reports.at(-1), ['m', undefined]);
});

test('a block queue reports its room per eighth of its byte capacity, not per message', () => {
  const reports: QueueRoom[] = [];
  const bus = new Bus();
  bus.watchRoom((_id, room) => room && reports.push(room));
  const sub = bus.addSubscriber('m', options({ capacity: 1000, capacityBytes: 800, overflow: 'block' }), () => new Promise(() => {}));
  sub.pause();
  sub.subscribe('t');
  for (let i = 0; i < 100; i++) bus.publish('t', enc('1234567890'));
  // 800 bytes in steps of 100 (an eighth): one report at subscribe, eight as it fills.
  assert.deepEqual(
    reports.map((r) => r.bytes),
    [800, 700, 600, 500, 400, 300, 200, 100, 0],
  );
});

test('a block queue whose consumer keeps up reports its room afresh once publishers could have used up the last report', async () => {
  const reports: QueueRoom[] = [];
  const bus = new Bus();
  bus.watchRoom((_id, room) => room && reports.push(room));
  const sub = bus.addSubscriber('m', options({ capacity: 16, capacityBytes: 1_000_000, overflow: 'block', maxBatch: 1, lingerMs: 0 }), () => Promise.resolve());
  sub.subscribe('t');
  // Each message is delivered before the next arrives: the room stays at 16, but publishers
  // counting down from the report at subscribe would run out after 16.
  for (let i = 0; i < 40; i++) {
    bus.publish('t', enc('x'));
    await sub.idle();
  }
  assert.ok(reports.length >= 1 + 40 / 2, `${reports.length} reports for 40 messages (one per eighth of the capacity taken in)`);
  assert.ok(
    reports.every((r) => r.messages >= 15),
    'the room was never short',
  );
});
