import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bus, type BusMessage } from '../../../host/bus/bus.ts';
import { deadLetters, dec, enc, flush, gate, options } from './support.ts';

/** A handler that fails every batch holding one of `poisoned`, with a reason naming it, and records the rest. */
function poisonedBy(...poisoned: string[]) {
  const calls: string[][] = [];
  const handled: string[] = [];
  const deliver = async (batch: BusMessage[]) => {
    const texts = batch.map(dec);
    calls.push(texts);
    const bad = texts.find((t) => poisoned.includes(t));
    if (bad) throw new Error(`cannot parse ${bad}`);
    handled.push(...texts);
  };
  return { calls, handled, deliver };
}

test('a poisoned message is dead-lettered alone; its batch neighbours are delivered in order', async () => {
  const dl = deadLetters();
  const bus = new Bus({ onDeadLetter: dl.onDeadLetter });
  const h = poisonedBy('c');
  const sub = bus.addSubscriber('m', options({ maxAttempts: 3 }), h.deliver);
  sub.subscribe('t');
  for (const s of ['a', 'b', 'c', 'd']) bus.publish('t', enc(s));
  await flush(); // the batch failed
  // Queued meanwhile: they wait for the failed batch, then go as one batch again.
  bus.publish('t', enc('e'));
  bus.publish('t', enc('f'));
  await sub.idle();
  assert.deepEqual(h.calls, [['a', 'b', 'c', 'd'], ['a'], ['b'], ['c'], ['c'], ['c'], ['d'], ['e', 'f']]);
  assert.deepEqual(h.handled, ['a', 'b', 'd', 'e', 'f']);
  assert.deepEqual(dl.seen, [['m', 'c', 'cannot parse c', 3]]);
  const s = sub.stats();
  assert.equal(s.deadLettered, 1);
  assert.equal(s.delivered, 5);
  assert.equal(s.failedDeliveries, 4, 'the batch once, then c three times');
  assert.equal(s.attempts, 0);
});

test('two poisoned messages in one batch are each dead-lettered; a message failing alone counts from its first failure', async () => {
  const dl = deadLetters();
  const bus = new Bus({ onDeadLetter: dl.onDeadLetter });
  const h = poisonedBy('x', 'z');
  const sub = bus.addSubscriber('m', options({ maxAttempts: 2 }), h.deliver);
  sub.subscribe('t');
  for (const s of ['x', 'y', 'z']) bus.publish('t', enc(s));
  await sub.idle();
  bus.publish('t', enc('x')); // alone from the start: no batch to split
  await sub.idle();
  assert.deepEqual(h.calls, [['x', 'y', 'z'], ['x'], ['x'], ['y'], ['z'], ['z'], ['x'], ['x']]);
  assert.deepEqual(dl.seen, [
    ['m', 'x', 'cannot parse x', 2],
    ['m', 'z', 'cannot parse z', 2],
    ['m', 'x', 'cannot parse x', 2],
  ]);
  assert.deepEqual(h.handled, ['y']);
});

test('maxAttempts 0 never gives up on a message', async () => {
  const dl = deadLetters();
  const bus = new Bus({ onDeadLetter: dl.onDeadLetter });
  let failures = 0;
  const attemptsSeen: number[] = [];
  const sub = bus.addSubscriber('m', options({ maxAttempts: 0 }), async (batch) => {
    attemptsSeen.push(sub.stats().attempts);
    if (dec(batch[0]) === 'slow' && failures < 25) {
      failures++;
      throw new Error('not yet');
    }
  });
  sub.subscribe('t');
  bus.publish('t', enc('slow'));
  await sub.idle();
  assert.equal(failures, 25);
  assert.deepEqual(
    attemptsSeen,
    Array.from({ length: 26 }, (_, i) => i),
    'each failure was counted',
  );
  assert.deepEqual(dl.seen, []);
  assert.equal(sub.stats().deadLettered, 0);
  assert.equal(sub.stats().delivered, 1);
});

test('a message older than ttlMs when its delivery fails is dead-lettered, whatever its attempts', async () => {
  let clock = 0;
  const dl = deadLetters();
  const bus = new Bus({ now: () => clock, onDeadLetter: dl.onDeadLetter });
  const g = gate();
  const sub = bus.addSubscriber('m', options({ ttlMs: 1000, maxAttempts: 10 }), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('old'));
  clock = 500;
  (await g.next()).reject(new Error('down'));
  await flush();
  assert.equal(sub.stats().attempts, 1, 'young enough: retried');
  clock = 900;
  bus.publish('t', enc('young'));
  clock = 1001;
  const retry = await g.next();
  assert.deepEqual(retry.batch, ['old']);
  retry.reject(new Error('still down'));
  const next = await g.next(); // at once, without a backoff
  assert.deepEqual(dl.seen, [['m', 'old', 'still down', 2]]);
  assert.deepEqual(next.batch, ['young']);
  next.reject(new Error('still down')); // 101 ms old: retried
  const last = await g.next();
  assert.deepEqual(last.batch, ['young']);
  last.resolve();
  await sub.idle();
  assert.equal(dl.seen.length, 1);
  assert.equal(sub.stats().delivered, 1);
});

test('the reason is the message of the last rejection, or the rejection itself when it is not an Error', async () => {
  const dl = deadLetters();
  const bus = new Bus({ onDeadLetter: dl.onDeadLetter });
  const g = gate();
  const sub = bus.addSubscriber('m', options({ maxAttempts: 2 }), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('a'));
  (await g.next()).reject(new Error('first'));
  (await g.next()).reject(new Error('second'));
  bus.publish('t', enc('b'));
  (await g.next()).reject('plain');
  (await g.next()).reject('plain again');
  await sub.idle();
  assert.deepEqual(dl.seen, [
    ['m', 'a', 'second', 2],
    ['m', 'b', 'plain again', 2],
  ]);
});

test('after a dead letter the next message goes at once, while the backoff keeps growing until a success', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const bus = new Bus();
  const g = gate();
  const sub = bus.addSubscriber('m', options({ maxAttempts: 1, retryInitialMs: 100, retryMaxMs: 1000 }), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('a'));
  const a = await g.next();
  bus.publish('t', enc('b'));
  bus.publish('t', enc('c'));
  a.reject(); // dead-lettered at once (maxAttempts 1); backoff now 200
  const bc = await g.next();
  assert.deepEqual(bc.batch, ['b', 'c']);
  bc.reject(); // a batch: retried one by one after 200 ms
  await flush();
  t.mock.timers.tick(199);
  await flush();
  assert.equal(g.calls.length, 2, 'the backoff grew with the dead letter');
  t.mock.timers.tick(1);
  const b = await g.next();
  assert.deepEqual(b.batch, ['b']);
  b.resolve();
  const c = await g.next(); // a success resets the backoff
  assert.deepEqual(c.batch, ['c']);
  c.resolve();
  await sub.idle();
  assert.equal(sub.stats().deadLettered, 1);
});

test('onDeadLetter may publish, even to a topic the failing subscriber matches; the copy queues behind the rest', async () => {
  const bus: Bus = new Bus({
    // What the host does: publish it to deadletter/<module>.
    onDeadLetter: (id, m, reason) => bus.publish(`deadletter/${id}`, enc(`${dec(m)}: ${reason}`)),
  });
  const h = poisonedBy('poison');
  const sub = bus.addSubscriber('m', options({ maxAttempts: 1 }), h.deliver);
  sub.subscribe('jobs/#');
  sub.subscribe('deadletter/#');
  const dlq: string[] = [];
  const observer = bus.addSubscriber('dlq', options(), async (batch) => void dlq.push(...batch.map((m) => `${m.topic} ${dec(m)}`)));
  observer.subscribe('deadletter/#');
  for (const s of ['1', 'poison', '2']) bus.publish('jobs/x', enc(s));
  await sub.idle();
  await observer.idle();
  assert.deepEqual(h.handled, ['1', '2', 'poison: cannot parse poison']);
  assert.deepEqual(dlq, ['deadletter/m poison: cannot parse poison']);
});

test('addSubscriber refuses maxAttempts and ttlMs out of range', () => {
  const bus = new Bus();
  assert.throws(() => bus.addSubscriber('n', options({ maxAttempts: -1 }), async () => {}), {
    message: 'subscriber "n": maxAttempts must be an integer >= 0, not -1',
  });
  assert.throws(() => bus.addSubscriber('n', options({ maxAttempts: 1.5 }), async () => {}), {
    message: 'subscriber "n": maxAttempts must be an integer >= 0, not 1.5',
  });
  assert.throws(() => bus.addSubscriber('n', options({ ttlMs: Number.NaN }), async () => {}), { message: 'subscriber "n": ttlMs must be >= 0, not NaN' });
  assert.equal(bus.subscriber('n'), undefined);
});
