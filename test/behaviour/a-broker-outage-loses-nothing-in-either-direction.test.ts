// Two hosts exchange telemetry through Mosquitto (persistence on), each bridging its own
// readings out and the other's in. Mosquitto is stopped for 10 s mid-run and started again.
// Everything each host published before the broker came back reaches the other host's sink,
// in order per device, none missing; duplicates are allowed, counted and reported.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bridge, bridgeUp } from '../support/bridges.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { checkDevices, type Reading } from '../support/readings.ts';

const OUTAGE_MS = 10_000;

function startHost(name: string, devices: string[], sink: HttpSink, url: string) {
  const rules = { out: [{ filter: 'telemetry/#' }], in: [{ filter: 'telemetry/#' }] };
  return new HostProcess([
    '--config',
    writeConfig({
      modules: {
        telemetry: telemetry({ devices, 'interval-ms': 50 }),
        gateway: gateway(sink.url, 'telemetry/#', { delivery: { durable: true, maxAttempts: 0 } }),
      },
      bridges: { site: bridge(url, `host-${name}`, rules) },
    }),
  ]);
}

/** The highest seq of `device` a sink has. */
const maxSeq = (sink: HttpSink, device: string) => Math.max(0, ...sink.items<Reading>().flatMap((r) => (r.deviceId === device ? [r.seq] : [])));

test('Mosquitto stopped for 10 s and started again: nothing is lost in either direction, order per device kept', async (t) => {
  const broker = await Mosquitto.start({ persistence: true });
  const sinkA = await new HttpSink().listen();
  const sinkB = await new HttpSink().listen();
  const hostA = startHost('a', ['a1', 'a2'], sinkA, broker.url);
  const hostB = startHost('b', ['b1', 'b2'], sinkB, broker.url);
  try {
    await Promise.all([hostA.ready(['telemetry', 'gateway']), hostB.ready(['telemetry', 'gateway'])]);
    await Promise.all([bridgeUp(hostA, 'site', { subscribed: true }), bridgeUp(hostB, 'site', { subscribed: true })]);
    await Promise.all([
      sinkA.waitFor(() => maxSeq(sinkA, 'b1') >= 20 && maxSeq(sinkA, 'b2') >= 20, 30_000, 'host A: readings of B'),
      sinkB.waitFor(() => maxSeq(sinkB, 'a1') >= 20 && maxSeq(sinkB, 'a2') >= 20, 30_000, 'host B: readings of A'),
    ]);

    const linesBefore = [hostA.lines.length, hostB.lines.length];
    await broker.stop();
    await Promise.all(
      [hostA, hostB].map((h, i) => h.waitForLog((l) => l.code === 'EH_BRIDGE_DISCONNECTED' && h.lines.indexOf(l) >= linesBefore[i], 10_000, 'lost connection')),
    );
    // The outage itself is what is tested: a timer, not synchronisation.
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await broker.start();
    await Promise.all([bridgeUp(hostA, 'site', { after: linesBefore[0] }), bridgeUp(hostB, 'site', { after: linesBefore[1] })]);

    // What each host had published by now (its own sink gets it over the local bus) must reach the other.
    const targets = { a1: maxSeq(sinkA, 'a1'), a2: maxSeq(sinkA, 'a2'), b1: maxSeq(sinkB, 'b1'), b2: maxSeq(sinkB, 'b2') };
    t.diagnostic(`published before the broker came back: ${JSON.stringify(targets)}`);
    await Promise.all([
      sinkA.waitFor(() => maxSeq(sinkA, 'b1') >= targets.b1 && maxSeq(sinkA, 'b2') >= targets.b2, 30_000, 'host A: catch-up'),
      sinkB.waitFor(() => maxSeq(sinkB, 'a1') >= targets.a1 && maxSeq(sinkB, 'a2') >= targets.a2, 30_000, 'host B: catch-up'),
    ]);

    for (const [name, sink, remote, floor] of [
      ['A', sinkA, ['b1', 'b2'], Math.min(targets.b1, targets.b2)],
      ['B', sinkB, ['a1', 'a2'], Math.min(targets.a1, targets.a2)],
    ] as const) {
      // From each device's first reading at this sink: what a host published before the other's
      // bridge had subscribed never had a receiver (both start at once). The sink had readings
      // of each device before the broker stopped, so the outage lies inside what is checked.
      const report = checkDevices(sink.items<Reading>(), [...remote], floor, true);
      t.diagnostic(`sink ${name}: ${report.map((r) => `${r.device} ${r.distinct} distinct, ${r.duplicates} duplicates`).join('; ')}`);
    }
    // A reading needs more than 10 s of queueing to prove anything: the outage covered many.
    assert.ok(Math.min(...Object.values(targets)) >= 20 + OUTAGE_MS / 50 / 2, `too few readings published across the outage: ${JSON.stringify(targets)}`);
  } finally {
    hostA.kill();
    hostB.kill();
    await Promise.all([sinkA.close(), sinkB.close()]);
    await broker.stop();
  }
});
