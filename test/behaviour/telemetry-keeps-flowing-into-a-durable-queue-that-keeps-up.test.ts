// A durable gateway queue that never fills (the sink keeps up) must never hold telemetry
// back. Publishers count down from the room the queue last reported; a queue whose
// consumer keeps up holds its room where it was, and once reported only on change it
// would let them count down to nothing and refuse every reading from then on. Here the
// queue takes 500 messages and telemetry sends far more than that.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';
import { assertEachDeviceInOrder, type Reading } from '../support/readings.ts';

const CAPACITY = 500;

test('telemetry into a durable queue that keeps up goes on past the queue capacity, every reading in order', async () => {
  const sink = await new HttpSink().listen();
  const devices = ['d1', 'd2', 'd3', 'd4'];
  const config = writeConfig({
    modules: {
      telemetry: { ...telemetry({ devices, 'interval-ms': 5, burst: 5 }), limits: { publishPerSecond: 0 } },
      uplink: gateway(sink.url, 'telemetry/#', { delivery: { durable: true, capacity: CAPACITY, maxBatch: 100, lingerMs: 5 } }),
    },
  });
  const host = new HostProcess(['--config', config]);
  try {
    await host.ready(['telemetry', 'uplink']);
    const target = 10 * CAPACITY;
    await sink.waitFor(() => sink.items().length >= target, 60_000, `${target} readings at the sink (${10}× the queue's capacity)`);
    assertEachDeviceInOrder(sink.items<Reading>(), devices);
  } finally {
    host.kill();
    await sink.close();
  }
});
