// The uplink is down for 10 s: the gateway's durable queue holds everything, and
// when the sink comes back every reading arrives, in order per device, none lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';
import { assertEachDeviceInOrder, type Reading } from '../support/readings.ts';

test('sink down for 10 s, then up: zero loss, order per device kept', async () => {
  const sink = await new HttpSink().listen();
  const config = writeConfig({
    modules: {
      telemetry: telemetry({ devices: ['d1', 'd2', 'd3'], 'interval-ms': 50 }),
      gateway: gateway(sink.url, 'telemetry/#', { delivery: { durable: true, maxAttempts: 0, retryMaxMs: 1000 } }),
    },
  });
  const host = new HostProcess(['--config', config]);
  try {
    await host.ready(['telemetry', 'gateway']);
    await sink.waitFor(() => sink.items().length >= 30, 20_000, 'first readings');
    await sink.down();
    const downAt = Date.now();
    // Waiting out the outage is the point of the test: a timer, not synchronisation.
    await new Promise((r) => setTimeout(r, 10_000));
    await sink.up();
    const lastPublished = Math.floor((Date.now() - downAt) / 50);
    await sink.waitFor(
      () => ['d1', 'd2', 'd3'].every((d) => sink.items<Reading>().some((r) => r.deviceId === d && r.seq >= lastPublished)),
      30_000,
      'catch-up after the outage',
    );
    for (const [device, seqs] of assertEachDeviceInOrder(sink.items<Reading>(), ['d1', 'd2', 'd3'])) {
      assert.ok(seqs.length >= lastPublished, `${device}: only ${seqs.length} readings`);
    }
  } finally {
    host.kill();
    await sink.close();
  }
});
