// Two hosts bridge telemetry/# both out and in through one Mosquitto, the overlap a loop
// needs. Each host's sink gets its own readings once (no echo back from the broker), the
// other host's once, and an outside MQTT client's once; a client watching the broker sees
// each reading once (neither host sends back what came from the other).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { bridge, bridgeUp } from '../support/bridges.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { checkDevices, type Reading } from '../support/readings.ts';

const EXTERNAL = 40;

function startHost(name: string, devices: string[], sink: HttpSink, url: string) {
  const rules = { out: [{ filter: 'telemetry/#' }], in: [{ filter: 'telemetry/#' }] };
  return new HostProcess([
    '--config',
    writeConfig({
      modules: { telemetry: telemetry({ devices, 'interval-ms': 25 }), gateway: gateway(sink.url, 'telemetry/#') },
      bridges: { site: bridge(url, `host-${name}`, rules) },
    }),
  ]);
}

test('two hosts bridging telemetry/# out and in: every reading reaches each sink once, nothing echoes, nothing ping-pongs', async (t) => {
  const broker = await Mosquitto.start();
  const sinkA = await new HttpSink().listen();
  const sinkB = await new HttpSink().listen();
  const watcher = await mqtt.connectAsync(broker.url, { clientId: 'watcher', protocolVersion: 5, reconnectPeriod: 0 });
  const seen = new Map<string, number>();
  watcher.on('message', (_topic, payload) => {
    const r = JSON.parse(payload.toString()) as Reading;
    const key = `${r.deviceId}#${r.seq}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  });
  // No Local: the watcher does not see its own publishes, so any "ext" reading it sees was sent back by a host.
  await watcher.subscribeAsync('telemetry/#', { qos: 1, nl: true });
  const hostA = startHost('a', ['a1', 'a2'], sinkA, broker.url);
  const hostB = startHost('b', ['b1', 'b2'], sinkB, broker.url);
  try {
    await Promise.all([hostA.ready(['telemetry', 'gateway']), hostB.ready(['telemetry', 'gateway'])]);
    await Promise.all([bridgeUp(hostA, 'site', { subscribed: true }), bridgeUp(hostB, 'site', { subscribed: true })]);
    for (let seq = 1; seq <= EXTERNAL; seq++) await watcher.publishAsync('telemetry/ext', JSON.stringify({ deviceId: 'ext', seq }), { qos: 1 });
    const has = (sink: HttpSink, devices: string[], seq: number) => () =>
      devices.every((d) => sink.items<Reading>().some((r) => r.deviceId === d && r.seq >= seq));
    await Promise.all([
      sinkA.waitFor(has(sinkA, ['a1', 'a2', 'b1', 'b2'], 40), 30_000, 'host A: 40 readings of every device'),
      sinkB.waitFor(has(sinkB, ['a1', 'a2', 'b1', 'b2'], 40), 30_000, 'host B: 40 readings of every device'),
      sinkA.waitFor(has(sinkA, ['ext'], EXTERNAL), 30_000, 'host A: the external readings'),
      sinkB.waitFor(has(sinkB, ['ext'], EXTERNAL), 30_000, 'host B: the external readings'),
    ]);
    // Both stop gracefully: what they still had queued goes out before they disconnect.
    const [stopA, stopB] = await Promise.all([hostA.stop('SIGTERM'), hostB.stop('SIGTERM')]);
    assert.deepEqual([stopA.code, stopB.code], [0, 0]);
    const stopped = (host: HostProcess) => host.lines.find((l) => l.bridge === 'site' && /^bridge site stopped/.test(l.msg))!;
    const sent = Number(stopped(hostA).sent) + Number(stopped(hostB).sent);
    const watched = () => [...seen.entries()].filter(([k]) => !k.startsWith('ext#')).reduce((n, [, c]) => n + c, 0);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the watcher saw ${watched()} of the ${sent} readings the hosts sent`)), 10_000);
      const check = () => {
        if (watched() < sent) return;
        clearTimeout(timer);
        watcher.off('message', check);
        resolve();
      };
      watcher.on('message', check);
      check();
    });

    for (const [name, sink] of [
      ['A', sinkA],
      ['B', sinkB],
    ] as const) {
      const report = checkDevices(sink.items<Reading>(), ['a1', 'a2', 'b1', 'b2', 'ext'], 40);
      t.diagnostic(`sink ${name}: ${report.map((r) => `${r.device} ${r.distinct}`).join(', ')}`);
      for (const r of report) assert.equal(r.duplicates, 0, `sink ${name}: ${r.device} arrived twice (an echo or a ping-pong)`);
    }
    assert.equal(Number(stopped(hostA).echoesDropped), 0);
    const repeated = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual(repeated, [], 'readings the broker got more than once');
    assert.equal([...seen.keys()].filter((k) => k.startsWith('ext#')).length, 0, 'a host sent an external client its own readings back');
    t.diagnostic(`sent to the broker: A ${stopped(hostA).sent}, B ${stopped(hostB).sent}; the watcher saw ${watched()}`);
    assert.equal(watched(), sent, 'the broker got each reading once, from the host that published it');
  } finally {
    hostA.kill();
    hostB.kill();
    await watcher.endAsync(true);
    await Promise.all([sinkA.close(), sinkB.close()]);
    await broker.stop();
  }
});
