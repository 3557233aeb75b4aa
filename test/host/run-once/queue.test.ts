import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunBusy, RunQueue } from '../../../host/run-once/queue.ts';

test('runs start at once up to the concurrency, then wait in line in arrival order, then are refused', async () => {
  const q = new RunQueue({ concurrency: 2, queue: 2 });
  const a = q.reserve();
  const b = q.reserve();
  const c = q.reserve();
  const d = q.reserve();
  assert.throws(
    () => q.reserve(),
    (e: RunBusy) => {
      assert.ok(e instanceof RunBusy);
      assert.equal(e.code, 'EH_RUN_BUSY');
      assert.ok(e.retryAfterSeconds >= 1);
      assert.match(e.message, /2 runs are running and 2 are waiting \(admin\.run\.concurrency 2, admin\.run\.queue 2\)/);
      return true;
    },
  );
  assert.equal(q.refused, 1);
  await a.turn();
  await b.turn();
  const order: string[] = [];
  const cTurn = c.turn().then(() => order.push('c'));
  const dTurn = d.turn().then(() => order.push('d'));
  assert.deepEqual([q.running, q.waiting], [2, 2]);
  a.release();
  await cTurn;
  assert.deepEqual(order, ['c'], 'a released slot passes to the first in line');
  a.release(); // twice is harmless
  assert.deepEqual([q.running, q.waiting], [2, 1]);
  b.release();
  await dTurn;
  assert.deepEqual(order, ['c', 'd']);
  c.release();
  d.release();
  assert.deepEqual([q.running, q.waiting], [0, 0]);
});

test('a waiting run whose client goes away gives its place up', async () => {
  const q = new RunQueue({ concurrency: 1, queue: 1 });
  const a = q.reserve();
  const b = q.reserve();
  const controller = new AbortController();
  const turn = b.turn(controller.signal);
  controller.abort(new Error('gone'));
  await assert.rejects(turn, /gone/);
  b.release();
  assert.equal(q.waiting, 0);
  const c = q.reserve();
  a.release();
  await c.turn();
  assert.equal(q.running, 1);
  c.release();
  assert.equal(q.running, 0);
});
