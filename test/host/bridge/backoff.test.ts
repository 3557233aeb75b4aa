import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../../host/bridge/backoff.ts';

test('the delay doubles up to the cap, each drawn between half and all of its step', () => {
  const low = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
  assert.deepEqual(
    Array.from({ length: 6 }, () => low.next()),
    [50, 100, 200, 400, 500, 500],
  );
  const high = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 1);
  assert.deepEqual(
    Array.from({ length: 6 }, () => high.next()),
    [100, 200, 400, 800, 1000, 1000],
  );
});

test('jitter spreads hosts that retry together', () => {
  const delays = new Set(Array.from({ length: 20 }, () => new Backoff({ initialMs: 1000, maxMs: 1000 }).next()));
  assert.ok(delays.size > 10, `only ${delays.size} distinct delays`);
  for (const d of delays) assert.ok(d >= 500 && d <= 1000, `${d} out of range`);
});

test('reset starts again from the initial step', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 10_000 }, () => 1);
  b.next();
  b.next();
  b.reset();
  assert.equal(b.next(), 100);
});
