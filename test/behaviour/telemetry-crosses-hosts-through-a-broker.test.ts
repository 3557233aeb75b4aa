// Two hosts bridged to one real Mosquitto: host A runs telemetry and is bridged with the
// --bridge flag alone (everything out, nothing in); host B brings telemetry/# in and its
// gateway posts it to an HTTP sink. Every reading A sent reaches the sink, in order per
// device, none missing, none twice; and A's count of messages the broker acknowledged
// matches what the sink received.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bridge, bridgeUp } from '../support/bridges.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { checkDevices, type Reading } from '../support/readings.ts';

const DEVICES = ['d1', 'd2', 'd3'];

test('telemetry published on host A reaches the sink of host B through Mosquitto, in order per device, none missing, none twice', async (t) => {
  const broker = await Mosquitto.start();
  const sink = await new HttpSink().listen();
  const hostB = new HostProcess([
    '--config',
    writeConfig({
      modules: { gateway: gateway(sink.url, 'telemetry/#') },
      bridges: { site: bridge(broker.url, 'host-b', { in: [{ filter: 'telemetry/#' }] }) },
    }),
  ]);
  let hostA: HostProcess | undefined;
  try {
    await hostB.ready(['gateway']);
    await bridgeUp(hostB, 'site', { subscribed: true });
    hostA = new HostProcess(['--config', writeConfig({ modules: { telemetry: telemetry({ devices: DEVICES, 'interval-ms': 20 }) } }), '--bridge', broker.url]);
    await hostA.ready(['telemetry']);
    const up = await bridgeUp(hostA, 'default');
    assert.equal(up.protocol, 'MQTT 5');
    await sink.waitFor(() => DEVICES.every((d) => sink.items<Reading>().some((r) => r.deviceId === d && r.seq >= 50)), 30_000, 'seq 50 of every device');

    // A graceful stop sends what A's out queue still holds before it disconnects.
    const { code } = await hostA.stop('SIGTERM');
    assert.equal(code, 0);
    const stopped = hostA.lines.find((l) => l.bridge === 'default' && /^bridge default stopped/.test(l.msg));
    assert.ok(stopped, 'host A logged that its bridge stopped');
    assert.equal(stopped.queued, 0);
    const sent = Number(stopped.sent);
    await sink.waitFor(() => sink.items().length >= sent, 20_000, `all ${sent} messages A sent`);

    const report = checkDevices(sink.items<Reading>(), DEVICES, 50);
    t.diagnostic(`A sent ${sent}; sink: ${report.map((r) => `${r.device} ${r.distinct} (+${r.duplicates} dup)`).join(', ')}`);
    for (const r of report) assert.equal(r.duplicates, 0, `${r.device}: duplicates without any outage`);
    assert.equal(sink.items().length, sent, 'the sink got exactly what the broker acknowledged to A');
  } finally {
    hostA?.kill();
    hostB.kill();
    await sink.close();
    await broker.stop();
  }
});
