import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TimerOps } from '../../../../host/capabilities/timer/ops.ts';
import { bind } from '../../../../host/capabilities/timer/service.ts';
import { create } from '../../../../host/capabilities/timer/worker.ts';
import { fakeService, fakeWorkerContext } from '../../../support/capability-fakes.ts';

type Timer = { after(ms: number): number; every(ms: number): number; cancel(id: number): void };

/** Both halves joined in this process; `ticks` records the guest's onTick calls. */
function timers(maxTimers = 1000, guest: (id: number) => Promise<void> | void = () => {}) {
  const ticks: number[] = [];
  let toWorker: Record<string, (a: unknown) => unknown> = {};
  const service = fakeService<TimerOps>('m', { toWorker: { tick: (id) => toWorker.tick(id) as Promise<void> } });
  const binding = bind(service.host, service.module, {});
  const worker = fakeWorkerContext<TimerOps>('m', {
    limits: { maxTimers },
    service: {
      request: (op, args) => Promise.resolve((binding.handlers as Record<string, (a: unknown) => unknown>)[op](args)) as Promise<never>,
      notify: (op, args) => void (binding.handlers as Record<string, (a: unknown) => unknown>)[op](args),
      append: () => {},
    },
    callGuest: async (_i, _f, args) => {
      ticks.push(args[0] as number);
      await guest(args[0] as number);
    },
  });
  const timer = create(worker.ctx, {})['edgehost:platform/timer'] as unknown as Timer;
  toWorker = worker.handlers() as unknown as typeof toWorker;
  binding.instanceStarting?.(1);
  binding.instanceReady?.(1);
  return { timer, ticks, binding, service };
}

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, `not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('after fires once, every repeats, cancel stops it', async () => {
  const t = timers();
  const once = t.timer.after(5);
  const repeat = t.timer.every(5);
  await until(() => t.ticks.filter((id) => id === repeat).length >= 3);
  t.timer.cancel(repeat);
  const n = t.ticks.filter((id) => id === repeat).length;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(t.ticks.filter((id) => id === once).length, 1);
  assert.ok(t.ticks.filter((id) => id === repeat).length <= n + 1);
  t.binding.close?.();
});

test('a tick that is still running is not queued again', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const t = timers(1000, () => gate);
  t.timer.every(2);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(t.ticks.length, 1);
  release();
  t.binding.close?.();
});

test('past limits.maxTimers a new timer gets id 0 and never fires', async () => {
  const t = timers(2);
  assert.notEqual(t.timer.after(1), 0);
  assert.notEqual(t.timer.after(1), 0);
  assert.equal(t.timer.after(1), 0);
  await until(() => t.ticks.length === 2);
  t.binding.close?.();
});

test('when the instance ends its timers stop: the next instance arms its own', async () => {
  const t = timers();
  t.timer.every(5);
  await until(() => t.ticks.length >= 1);
  t.binding.instanceEnded?.(1, 'crash');
  const n = t.ticks.length;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(t.ticks.length, n);
});

test('a timer due before its instance is ready fires once it is ready, not never', async () => {
  const t = timers();
  t.binding.instanceEnded?.(1, 'crash');
  t.service.setReady(false);
  t.binding.instanceStarting?.(2);
  // As a guest's init does: armed while the instance is still starting.
  const once = t.timer.after(0);
  const repeat = t.timer.every(5);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(t.ticks, []);
  t.service.setReady(true);
  t.binding.instanceReady?.(2);
  await until(() => t.ticks.includes(once) && t.ticks.includes(repeat));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(t.ticks.filter((id) => id === once).length, 1);
  t.binding.close?.();
});
