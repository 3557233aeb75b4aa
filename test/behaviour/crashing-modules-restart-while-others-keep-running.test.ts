// Modules that trap, loop forever or crash-loop are stopped and restarted (or
// given up on) while another module keeps processing: asserted with real
// components and a real HTTP sink downstream of the healthy pipeline.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver, gateway, telemetry, testGuest } from '../support/modules.ts';

async function withHost(modules: Record<string, unknown>, body: (host: HostProcess, sink: HttpSink) => Promise<void>) {
  const sink = await new HttpSink().listen();
  const host = new HostProcess(['--config', writeConfig({ modules: { ...modules, telemetry: telemetry(), uplink: gateway(sink.url) } })]);
  try {
    await body(host, sink);
  } finally {
    host.kill();
    await sink.close();
  }
}

/** The healthy pipeline delivers at least `n` more items from now on. */
async function keepsFlowing(sink: HttpSink, n = 6) {
  const before = sink.items().length;
  await sink.waitFor(() => sink.items().length >= before + n, 10_000, `${n} more telemetry items`);
}

test('a module that traps is logged and restarted with backoff while another module keeps processing', async () => {
  await withHost(
    { trap: testGuest('trap', 'telemetry', { grants: { pubsub: { publish: ['trap/#'] } }, config: { 'trap-after-ms': 200 } }) },
    async (host, sink) => {
      await host.ready(['trap', 'telemetry', 'uplink']);
      for (let restarts = 1; restarts <= 2; restarts++) {
        await host.waitForLog((l) => l.module === 'trap' && l.msg === 'module trap ready' && l.restarts === restarts, 20_000, `trap restart ${restarts}`);
        await keepsFlowing(sink, 2);
      }
      const traps = host.lines.filter((l) => l.module === 'trap' && l.code === 'EH_MODULE_TRAP');
      assert.ok(traps.length >= 2, `expected at least 2 traps, saw ${traps.length}`);
      assert.match(traps[0].msg, /^module trap stopped: /);
      const delays = host.lines.filter((l) => l.module === 'trap' && typeof l.delayMs === 'number').map((l) => l.delayMs);
      assert.deepEqual(delays.slice(0, 2), [200, 400], 'backoff doubles');
      assert.equal(host.child.exitCode, null);
    },
  );
});

test('a call stuck in an infinite loop is stopped within its deadline and the module restarts, while another keeps processing', async () => {
  const deadline = 500;
  await withHost(
    {
      loop: testGuest('loop', 'telemetry', {
        grants: { pubsub: { subscribe: ['loop/in'], publish: ['loop/out'] } },
        subscriptions: ['loop/in'],
        limits: { callDeadlineMs: deadline },
      }),
      driver: driver(['loop/in'], [{ topic: 'loop/in', payload: 'spin', 'at-ms': 300 }]),
    },
    async (host, sink) => {
      await host.ready(['loop', 'telemetry', 'uplink']);
      const stopped = await host.waitForLog((l) => l.module === 'loop' && l.code === 'EH_MODULE_DEADLINE', 20_000, 'deadline');
      const ran = Number(/a call ran (\d+) ms/.exec(stopped.msg)?.[1]);
      assert.ok(ran > deadline && ran < deadline + 250, `stopped after ${ran} ms, deadline ${deadline} ms`);
      // While the loop module spins (and after), telemetry keeps reaching the sink.
      await keepsFlowing(sink);
      await host.waitForLog((l) => l.msg === 'module loop ready' && Number(l.restarts) >= 1, 10_000, 'loop restarted');
      assert.equal(host.child.exitCode, null);
    },
  );
});

test('a module that keeps crashing is marked failed after restart.maxCrashes, and the others keep running', async () => {
  await withHost(
    {
      trap: testGuest('trap', 'telemetry', {
        grants: { pubsub: { publish: ['trap/#'] } },
        config: { 'trap-after-ms': 10 },
        restart: { initialBackoffMs: 20, maxCrashes: 2, windowMs: 60_000 },
      }),
    },
    async (host, sink) => {
      const failed = await host.waitForLog((l) => l.module === 'trap' && l.code === 'EH_MODULE_FAILED', 20_000, 'module failed');
      assert.match(failed.msg, /crashed 3 times in 60000 ms; not restarting it/);
      await keepsFlowing(sink);
      assert.equal(host.lines.filter((l) => l.module === 'trap' && l.code === 'EH_MODULE_TRAP').length, 3);
      assert.equal(host.lines.filter((l) => l.msg === 'module trap ready').length, 3);
    },
  );
});
