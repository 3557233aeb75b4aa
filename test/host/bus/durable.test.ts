import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type TestContext, test } from 'node:test';
import { Bus, type BusMessage, type BusOptions, DurableStore, type SubscriberOptions } from '../../../host/bus/bus.ts';
import { deadLetters, dec, enc, flush, gate, options } from './support.ts';

// A crash is simulated by leaving a store open and opening a second one on
// the same file, as the restarted host would; the last test kills a real
// process instead, to show what happens to writes that were never committed.

/** A queue file in a fresh folder (that does not exist yet: the store creates it). */
function queueFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgehost-durable-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'data', 'queues.sqlite');
}

/** A store closed when the test ends, after whatever it checked. */
function openStore(t: TestContext, file: string): DurableStore {
  const store = new DurableStore(file);
  t.after(() => store.close());
  return store;
}

function durable(o: Partial<SubscriberOptions> = {}): SubscriberOptions {
  return options({ durable: true, ...o });
}

/** A bus on `store` with one paused durable subscriber `id` on `filters`, whose deliveries never settle. */
function parked(store: DurableStore, id: string, filters: string[], busOptions: BusOptions = {}) {
  const bus = new Bus({ store, ...busOptions });
  const sub = bus.addSubscriber(id, durable(), () => new Promise(() => {}));
  sub.pause();
  for (const f of filters) sub.subscribe(f);
  return bus;
}

/** What subscriber `id` would recover from `file` now, read through a store of its own. */
function stored(file: string, id: string): string[] {
  const store = new DurableStore(file);
  try {
    return [...store.queue(id).recover()].map((r) => dec(r.message));
  } finally {
    store.close();
  }
}

test('committed messages survive a crash and are delivered again in order, ahead of new ones', async (t) => {
  const file = queueFile(t);
  let clock = 1000;
  const before = parked(openStore(t, file), 'm', ['t/#'], { now: () => clock++ });
  const published = ['a', 'b', 'c'].map((s, i) => before.publish(`t/${i}`, enc(s), i === 0 ? 'sensor' : undefined));
  before.commit();

  const bus = new Bus({ store: openStore(t, file) });
  const got: BusMessage[] = [];
  const sub = bus.addSubscriber('m', durable(), async (batch) => void got.push(...batch));
  sub.subscribe('t/#');
  const fresh = bus.publish('t/3', enc('d'));
  await sub.idle();
  assert.deepEqual(got, [...published, fresh], 'topic, payload, publishedAt and publisher kept');
  assert.deepEqual(got.map(dec), ['a', 'b', 'c', 'd']);
});

test('acknowledged messages are deleted: a restart delivers only the rest', async (t) => {
  const file = queueFile(t);
  const store = openStore(t, file);
  const bus = new Bus({ store });
  const g = gate();
  const sub = bus.addSubscriber('m', durable(), g.deliver);
  sub.subscribe('t');
  bus.publish('t', enc('a'));
  bus.publish('t', enc('b'));
  (await g.next()).resolve();
  bus.publish('t', enc('c'));
  bus.publish('t', enc('d'));
  const inFlight = await g.next(); // never settles: the host dies during this delivery
  assert.deepEqual(inFlight.batch, ['c', 'd']);
  bus.commit();
  assert.deepEqual(stored(file, 'm'), ['c', 'd']);
});

test('commit() makes appends durable at once; otherwise the end of the tick commits them', async (t) => {
  const file = queueFile(t);
  const bus = parked(openStore(t, file), 'm', ['t']);
  bus.commit(); // nothing pending: a no-op
  bus.publish('t', enc('a'));
  assert.deepEqual(stored(file, 'm'), [], 'not committed yet: another connection cannot see it');
  bus.commit();
  assert.deepEqual(stored(file, 'm'), ['a']);
  bus.publish('t', enc('b'));
  await flush();
  assert.deepEqual(stored(file, 'm'), ['a', 'b']);
});

test('attempt counts survive a restart; dead-lettered messages are deleted', async (t) => {
  const file = queueFile(t);
  const before = new Bus({ store: openStore(t, file) });
  const g = gate();
  const first = before.addSubscriber('m', durable({ maxAttempts: 3 }), g.deliver);
  first.subscribe('t');
  before.publish('t', enc('poison'));
  (await g.next()).reject(new Error('bad'));
  (await g.next()).reject(new Error('bad'));
  const hung = await g.next();
  assert.deepEqual(hung.batch, ['poison']);
  before.commit();

  const dl = deadLetters();
  const store = openStore(t, file);
  const bus = new Bus({ store, onDeadLetter: dl.onDeadLetter });
  const g2 = gate();
  const sub = bus.addSubscriber('m', durable({ maxAttempts: 3 }), g2.deliver);
  assert.equal(sub.stats().attempts, 2);
  (await g2.next()).reject(new Error('still bad'));
  await sub.idle();
  assert.deepEqual(dl.seen, [['m', 'poison', 'still bad', 3]]);
  bus.commit();
  assert.deepEqual(stored(file, 'm'), []);
});

test('a message dropped for capacity is deleted too', async (t) => {
  const file = queueFile(t);
  const store = openStore(t, file);
  const bus = new Bus({ store });
  const sub = bus.addSubscriber('m', durable({ capacity: 2, overflow: 'drop-oldest' }), async () => {});
  const sub2 = bus.addSubscriber('n', durable({ capacity: 2, overflow: 'drop-newest' }), async () => {});
  for (const s of [sub, sub2]) {
    s.pause();
    s.subscribe('t');
  }
  for (const s of ['1', '2', '3']) bus.publish('t', enc(s));
  bus.commit();
  assert.deepEqual(stored(file, 'm'), ['2', '3']);
  assert.deepEqual(stored(file, 'n'), ['1', '2']);
});

test('recovery applies the capacity and overflow policy: the overflow is dropped, reported and deleted', async (t) => {
  const file = queueFile(t);
  const before = new Bus({ store: openStore(t, file) });
  for (const id of ['oldest', 'newest']) {
    const sub = before.addSubscriber(id, durable(), () => new Promise(() => {}));
    sub.pause();
    sub.subscribe('t');
  }
  for (const s of ['1', '2', '3', '4', '5']) before.publish('t', enc(s));
  before.commit();

  const dropped: string[] = [];
  const bus = new Bus({ store: openStore(t, file), onOverflow: (id, m) => dropped.push(`${id}:${dec(m)}`) });
  const oldest = bus.addSubscriber('oldest', durable({ capacity: 3, overflow: 'drop-oldest' }), () => new Promise(() => {}));
  const newest = bus.addSubscriber('newest', durable({ capacity: 3, overflow: 'drop-newest' }), () => new Promise(() => {}));
  oldest.pause();
  newest.pause();
  assert.deepEqual(dropped, ['oldest:1', 'oldest:2', 'newest:4', 'newest:5']);
  assert.equal(oldest.stats().queued, 3);
  assert.equal(newest.stats().queued, 3);
  bus.commit();
  assert.deepEqual(stored(file, 'oldest'), ['3', '4', '5']);
  assert.deepEqual(stored(file, 'newest'), ['1', '2', '3']);
});

test('durable subscribers sharing a file see only their own rows', async (t) => {
  const file = queueFile(t);
  const before = new Bus({ store: openStore(t, file) });
  const g = gate();
  const acking = before.addSubscriber('one', durable(), g.deliver);
  acking.subscribe('x');
  acking.subscribe('both');
  const idle = before.addSubscriber('two', durable(), () => new Promise(() => {}));
  idle.pause();
  idle.subscribe('y');
  idle.subscribe('both');
  for (const topic of ['x', 'y', 'both']) before.publish(topic, enc(topic));
  (await g.next()).resolve(); // "one" acknowledges x and both
  before.publish('x', enc('x2'));
  await g.next();
  before.commit();
  assert.deepEqual(stored(file, 'one'), ['x2']);
  assert.deepEqual(stored(file, 'two'), ['y', 'both'], 'the copy "one" acknowledged is still there for "two"');
  assert.deepEqual(stored(file, 'three'), []);
});

test('removeSubscriber leaves the rows: a replacement with the same id gets them, the batch in flight first', async (t) => {
  const file = queueFile(t);
  const bus = new Bus({ store: openStore(t, file) });
  const g = gate();
  const old = bus.addSubscriber('m', durable({ maxBatch: 2 }), g.deliver);
  old.subscribe('t');
  for (const s of ['a', 'b', 'c']) bus.publish('t', enc(s));
  const inFlight = await g.next();
  assert.deepEqual(bus.removeSubscriber('m').map(dec), ['a', 'b', 'c']);

  const got: string[] = [];
  const sub = bus.addSubscriber('m', durable(), async (batch) => void got.push(...batch.map(dec)));
  inFlight.resolve(); // the old subscriber's late outcome deletes nothing
  await sub.idle();
  assert.deepEqual(got, ['a', 'b', 'c']);
  bus.commit();
  assert.deepEqual(stored(file, 'm'), []);
});

test('durable subscribers need a store; a closed store refuses messages for them, not for others', async (t) => {
  assert.throws(() => new Bus().addSubscriber('m', durable(), async () => {}), { message: 'subscriber "m": durable needs a bus created with a store' });

  const file = queueFile(t);
  const store = new DurableStore(file);
  const bus = new Bus({ store });
  const kept = bus.addSubscriber('kept', durable(), async () => {});
  kept.pause();
  kept.subscribe('t');
  const got: string[] = [];
  bus.addSubscriber('memory', options(), async (batch) => void got.push(...batch.map(dec))).subscribe('t');
  bus.publish('t', enc('before'));
  store.close(); // commits
  assert.throws(() => bus.publish('t', enc('after')), { message: `durable store ${file} is closed` });
  await bus.subscriber('memory')!.idle();
  assert.deepEqual(got, ['before', 'after']);
  assert.equal(kept.stats().queued, 1, 'the refused message was not queued');
  kept.resume();
  await kept.idle(); // acknowledging after close is ignored: it is delivered again after a restart
  assert.deepEqual(stored(file, 'kept'), ['before']);
  bus.commit(); // a no-op on a closed store
});

test('a file of another schema version is refused', (t) => {
  const file = queueFile(t);
  new DurableStore(file).close();
  const db = new DatabaseSync(file);
  db.exec('PRAGMA user_version = 7');
  db.close();
  assert.throws(() => new DurableStore(file), { message: `durable store ${file} has schema version 7; this host reads version 1` });
});

test('a process killed before commit loses its uncommitted appends, even those already in the WAL', async (t) => {
  const file = queueFile(t);
  const child = spawn(process.execPath, [new URL('./durable-crash-child.ts', import.meta.url).pathname, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, signal) => resolve(signal)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', () => reject(new Error(`the child exited before reporting: ${stderr}`)));
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const { walCommitted, walNow } = JSON.parse(line) as { walCommitted: number; walNow: number };
  assert.ok(walNow > walCommitted + 1_000_000, `uncommitted pages reached the WAL (${walCommitted} -> ${walNow} bytes)`);

  const store = openStore(t, file);
  const recovered = [...store.queue('m').recover()].map((r) => r.message);
  assert.deepEqual(
    recovered.map((m) => [m.topic, dec(m), m.publisher]),
    [
      ['t/committed', 'a', 'sensor'],
      ['t/committed', 'b', undefined],
    ],
  );
});
