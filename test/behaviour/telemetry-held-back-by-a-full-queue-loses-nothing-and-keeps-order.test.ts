// The uplink is down and the gateway's durable queue is small: past its budget the
// host answers the telemetry module's publishes with `full`. Telemetry holds the
// refused reading back and its devices stop sampling until the host takes it, so
// nothing is dropped; once the sink is back, every reading arrives, in order per
// device, with no gap in `seq`, and far more readings pass than the queue holds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';
import { assertEachDeviceInOrder, type Reading } from '../support/readings.ts';

const DEVICES = ['d1', 'd2', 'd3'];
/** About 30 readings of about 110 bytes. */
const CAPACITY_BYTES = 4 * 1024;
/** Readings per device to see at the sink: 3 × 300 × ~110 bytes is about 24 times the queue's budget. */
const PER_DEVICE = 300;

test('telemetry held back by a full durable queue: every reading arrives after the sink returns, in order, none lost', async (t) => {
  const sink = await new HttpSink().listen();
  sink.respond = () => 503;
  const config = writeConfig({
    modules: {
      telemetry: telemetry({ devices: DEVICES, 'interval-ms': 20 }),
      uplink: gateway(sink.url, 'telemetry/#', { delivery: { durable: true, capacityBytes: CAPACITY_BYTES, maxBatch: 20 } }),
    },
  });
  const host = new HostProcess(['--config', config]);
  try {
    await host.ready(['telemetry', 'uplink']);
    await host.waitForLog((l) => l.module === 'telemetry' && /holding readings back/.test(l.msg), 30_000, 'telemetry to hold readings back');
    const refusedWhileDown = sink.received.length;
    sink.respond = () => 200;
    await sink.waitFor(
      () => DEVICES.every((d) => sink.items<Reading>().some((r) => r.deviceId === d && r.seq >= PER_DEVICE)),
      60_000,
      `${PER_DEVICE} readings of each device at the sink`,
    );
    assertEachDeviceInOrder(sink.items<Reading>(), DEVICES);
    await host.waitForLog((l) => l.module === 'telemetry' && /takes readings again/.test(l.msg), 10_000, 'telemetry to sample again');
    assert.deepEqual(
      host.lines.filter((l) => /dropping per its delivery.overflow|publish to .* failed/.test(l.msg)),
      [],
      'a reading was dropped',
    );
    assert.equal(host.child.exitCode, null, 'the host exited');
    assert.ok(!host.lines.some((l) => /restarting module/.test(l.msg)), 'a module was restarted');
    t.diagnostic(`${refusedWhileDown} posts refused while the sink was down; ${sink.items().length} readings arrived afterwards`);
  } finally {
    host.kill();
    await sink.close();
  }
});
