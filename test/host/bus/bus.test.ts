import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bus, type DeliverFn, type SubscriberOptions } from '../../../host/bus/bus.ts';
import { dec, enc, options } from './support.ts';

/** A subscriber that records what it receives as "topic payload" strings. */
function recording(bus: Bus, id: string, filters: string[], o: Partial<SubscriberOptions> = {}) {
  const got: string[] = [];
  const sub = bus.addSubscriber(id, options(o), async (batch) => {
    for (const m of batch) got.push(`${m.topic} ${dec(m)}`);
  });
  for (const f of filters) sub.subscribe(f);
  return { sub, got };
}

/** Everything published so far is delivered (each subscriber is idle). */
async function settled(bus: Bus) {
  await Promise.all(Object.keys(bus.stats()).map((id) => bus.subscriber(id)!.idle()));
}

test('publish returns the message, stamped by the bus clock, and counts it', () => {
  let clock = 1234;
  const bus = new Bus({ now: () => clock });
  const payload = enc('hi');
  const m = bus.publish('a/b', payload, 'sensor');
  assert.deepEqual(m, { topic: 'a/b', payload, publishedAt: 1234, publisher: 'sensor' });
  clock = 2000;
  assert.equal(bus.publish('a/b', payload).publishedAt, 2000);
  assert.equal(bus.publish('a/b', payload).publisher, undefined);
  assert.equal(bus.published, 3);
});

test('publish queues synchronously, into matching subscribers only', async () => {
  const bus = new Bus();
  const a = recording(bus, 'a', ['sensors/+/temp']);
  const b = recording(bus, 'b', ['sensors/#']);
  const c = recording(bus, 'c', ['other']);
  const sys = recording(bus, 'sys', ['$SYS/#']);
  bus.publish('sensors/1/temp', enc('20'));
  bus.publish('sensors/1/humidity', enc('40'));
  bus.publish('$SYS/load', enc('1'));
  assert.deepEqual(Object.fromEntries(Object.entries(bus.stats()).map(([id, s]) => [id, s.queued])), { a: 1, b: 2, c: 0, sys: 1 });
  await settled(bus);
  assert.deepEqual(a.got, ['sensors/1/temp 20']);
  assert.deepEqual(b.got, ['sensors/1/temp 20', 'sensors/1/humidity 40']);
  assert.deepEqual(c.got, []);
  assert.deepEqual(sys.got, ['$SYS/load 1']);
});

test('wildcard filters in the first level do not match $ topics', async () => {
  const bus = new Bus();
  const all = recording(bus, 'all', ['#', '+/load']);
  bus.publish('$SYS/load', enc('1'));
  bus.publish('cpu/load', enc('2'));
  await settled(bus);
  assert.deepEqual(all.got, ['cpu/load 2']);
});

test('a message matching several filters of one subscriber is queued once', async () => {
  const bus = new Bus();
  const { sub, got } = recording(bus, 'm', ['a/#', 'a/+', 'a/b', '+/b', '#']);
  bus.publish('a/b', enc('1'));
  assert.equal(sub.stats().queued, 1);
  await sub.idle();
  assert.deepEqual(got, ['a/b 1']);
  assert.equal(sub.stats().delivered, 1);
});

test("noLocal skips only the subscriber's own publishes", async () => {
  const bus = new Bus();
  const bridge = recording(bus, 'bridge', ['#'], { noLocal: true });
  const echo = recording(bus, 'echo', ['#']);
  bus.publish('t', enc('from-bridge'), 'bridge');
  bus.publish('t', enc('from-echo'), 'echo');
  bus.publish('t', enc('from-host'));
  await settled(bus);
  assert.deepEqual(bridge.got, ['t from-echo', 't from-host']);
  assert.deepEqual(echo.got, ['t from-bridge', 't from-echo', 't from-host']);
});

test('subscribe is idempotent; unsubscribe stops new messages and ignores unknown filters', async () => {
  const bus = new Bus();
  const { sub, got } = recording(bus, 'm', ['x', 'x', 'y']);
  assert.deepEqual(sub.stats().filters, ['x', 'y']);
  bus.publish('x', enc('1'));
  sub.unsubscribe('x');
  sub.unsubscribe('never-subscribed');
  bus.publish('x', enc('2'));
  bus.publish('y', enc('3'));
  await sub.idle();
  // Already queued when unsubscribed: still delivered.
  assert.deepEqual(got, ['x 1', 'y 3']);
  assert.deepEqual(sub.stats().filters, ['y']);
  sub.subscribe('x');
  bus.publish('x', enc('4'));
  await sub.idle();
  assert.deepEqual(got, ['x 1', 'y 3', 'x 4']);
});

test('invalid topics and filters throw with the reason', () => {
  const bus = new Bus();
  const sub = bus.addSubscriber('m', options(), async () => {});
  const cases: [() => unknown, string][] = [
    [() => bus.publish('a/+', enc('')), 'topic "a/+" contains a wildcard (+ or #)'],
    [() => bus.publish('a/#', enc('')), 'topic "a/#" contains a wildcard (+ or #)'],
    [() => bus.publish('', enc('')), 'topic is empty'],
    [() => bus.publish('a\u0000', enc('')), 'topic contains U+0000'],
    [() => sub.subscribe('a/#/b'), 'filter "a/#/b": # must be the whole last level'],
    [() => sub.subscribe('a+'), 'filter "a+": + must be a whole level'],
    [() => sub.subscribe(''), 'filter is empty'],
  ];
  for (const [fn, message] of cases) assert.throws(fn, { name: 'Error', message });
  assert.equal(bus.published, 0, 'rejected publishes are not counted');
  assert.deepEqual(sub.stats().filters, []);
});

test('addSubscriber refuses a duplicate id and options out of range', () => {
  const bus = new Bus();
  bus.addSubscriber('m', options(), async () => {});
  assert.throws(() => bus.addSubscriber('m', options(), async () => {}), { message: 'subscriber "m" already exists' });
  assert.throws(() => bus.addSubscriber('n', options({ maxBatch: 0 }), async () => {}), { message: 'subscriber "n": maxBatch must be an integer >= 1, not 0' });
  assert.throws(() => bus.addSubscriber('n', options({ capacity: 0.5 }), async () => {}), {
    message: 'subscriber "n": capacity must be an integer >= 1, not 0.5',
  });
  assert.throws(() => bus.addSubscriber('n', options({ lingerMs: -1 }), async () => {}), { message: 'subscriber "n": lingerMs must be >= 0, not -1' });
  assert.equal(bus.subscriber('n'), undefined);
});

test('removeSubscriber returns the batch in flight and the queue, in order, and stops routing', async () => {
  const bus = new Bus();
  let release!: () => void;
  const deliver: DeliverFn = () => new Promise<void>((resolve) => (release = resolve));
  const sub = bus.addSubscriber('m', options({ maxBatch: 2 }), deliver);
  sub.subscribe('t/#');
  for (let i = 1; i <= 5; i++) bus.publish(`t/${i}`, enc(String(i)));
  await new Promise<void>((resolve) => setImmediate(resolve)); // the first batch is now in flight
  assert.equal(sub.stats().inFlight, 2);
  const rest = bus.removeSubscriber('m');
  assert.deepEqual(rest.map(dec), ['1', '2', '3', '4', '5']);
  assert.equal(bus.subscriber('m'), undefined);
  assert.deepEqual(Object.keys(bus.stats()), []);
  await sub.idle(); // a removed subscriber is idle
  release(); // its late outcome changes nothing
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(sub.stats().delivered, 0);
  assert.equal(sub.stats().queued, 0);

  // The id is free again, and the old subscriber's filters are gone.
  const replacement = recording(bus, 'm', []);
  bus.publish('t/6', enc('6'));
  await settled(bus);
  assert.deepEqual(replacement.got, []);
  assert.deepEqual(bus.removeSubscriber('nobody'), []);
});

test('stats reports every subscriber', async () => {
  const dropped: string[] = [];
  const bus = new Bus({ onOverflow: (id, m) => dropped.push(`${id}:${dec(m)}`) });
  const { sub: a } = recording(bus, 'a', ['x/#'], { capacity: 2, overflow: 'drop-newest' });
  recording(bus, 'b', ['x/1']);
  a.pause();
  for (let i = 1; i <= 3; i++) bus.publish(`x/${i}`, enc(String(i)));
  await bus.subscriber('b')!.idle();
  assert.deepEqual(bus.stats(), {
    a: {
      queued: 2,
      queuedBytes: 2,
      inFlight: 0,
      delivered: 0,
      failedDeliveries: 0,
      dropped: 1,
      filters: ['x/#'],
      paused: true,
      retrying: false,
      deadLettered: 0,
      attempts: 0,
    },
    b: {
      queued: 0,
      queuedBytes: 0,
      inFlight: 0,
      delivered: 1,
      failedDeliveries: 0,
      dropped: 0,
      filters: ['x/1'],
      paused: false,
      retrying: false,
      deadLettered: 0,
      attempts: 0,
    },
  });
  assert.deepEqual(dropped, ['a:3']);
});

test('an onOverflow that throws does not cut the fan-out short', async () => {
  const bus = new Bus({
    onOverflow: () => {
      throw new Error('observer bug');
    },
  });
  const { sub: full } = recording(bus, 'full', ['t'], { capacity: 1, overflow: 'drop-newest' });
  full.pause();
  const after = recording(bus, 'after', ['t']);
  bus.publish('t', enc('1'));
  assert.throws(() => bus.publish('t', enc('2')), { message: 'observer bug' });
  await after.sub.idle();
  assert.deepEqual(after.got, ['t 1', 't 2']);
  assert.equal(full.stats().dropped, 1);
  assert.equal(bus.published, 2);
});

test('routes correctly with thousands of filters', async () => {
  const bus = new Bus();
  const server = recording(bus, 'server', []);
  const device = recording(bus, 'device', ['dev/17/#']);
  for (let i = 0; i < 5000; i++) server.sub.subscribe(`dev/${i}/+`);
  server.sub.subscribe('dev/+/status');
  bus.publish('dev/4999/status', enc('a'));
  bus.publish('dev/17/cmd', enc('b'));
  bus.publish('dev/5000/cmd', enc('c'));
  bus.publish('dev/17/cmd/x', enc('d'));
  await settled(bus);
  assert.deepEqual(server.got, ['dev/4999/status a', 'dev/17/cmd b']);
  assert.deepEqual(device.got, ['dev/17/cmd b', 'dev/17/cmd/x d']);
  for (let i = 0; i < 5000; i++) server.sub.unsubscribe(`dev/${i}/+`);
  bus.publish('dev/17/cmd', enc('e'));
  await settled(bus);
  assert.deepEqual(server.got, ['dev/4999/status a', 'dev/17/cmd b']);
});
