// An MQTT client publishes 2,000 messages at QoS 1 into host A's server module; A bridges
// them to Mosquitto, and host B brings them in to its gateway and HTTP sink. A is SIGKILLed
// at a random moment and restarted on the same --data-dir. Every message A acknowledged
// before the kill was in the bridge's durable out queue by then (the PUBACK waits for the
// commit), so it reaches B's sink; the client resends the rest. Duplicates are reported.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { bridge, bridgeUp } from '../support/bridges.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, server } from '../support/modules.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { tempDir } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';
import { publishThroughKill } from '../support/publish-through-kill.ts';

const TOTAL = 2000;
const WINDOW = 64;

test('host A SIGKILLed mid-run and restarted: every message it had acknowledged reaches host B through the broker', async (t) => {
  const broker = await Mosquitto.start();
  const sink = await new HttpSink().listen();
  const hostB = new HostProcess([
    '--config',
    writeConfig({
      modules: { gateway: gateway(sink.url, 'load/#', { delivery: { maxBatch: 256, lingerMs: 20 } }) },
      bridges: { site: bridge(broker.url, 'host-b', { in: [{ filter: 'load/#' }] }) },
    }),
  ]);
  const address = `127.0.0.1:${await freePort()}`;
  const configA = writeConfig({
    modules: { server: server(address) },
    bridges: { site: bridge(broker.url, 'host-a', { out: [{ filter: 'load/#' }] }) },
  });
  const dataDir = tempDir();
  const startA = () => new HostProcess(['--config', configA, '--data-dir', dataDir]);
  let hostA = startA();
  let client: mqtt.MqttClient | undefined;
  try {
    await Promise.all([hostB.ready(['gateway']), hostA.ready(['server'])]);
    await Promise.all([bridgeUp(hostB, 'site', { subscribed: true }), bridgeUp(hostA, 'site')]);
    client = await mqtt.connectAsync(`mqtt://${address}`, { clientId: 'load', clean: false, protocolVersion: 4, reconnectPeriod: 100, connectTimeout: 2000 });
    client.on('error', () => {});
    const c = client;
    const killAt = 200 + Math.floor(Math.random() * 1600);
    t.diagnostic(`SIGKILL after ${killAt} acknowledged publishes`);
    const { ackedBeforeKill, killed } = await publishThroughKill(c, {
      total: TOTAL,
      window: WINDOW,
      killAt,
      timeoutMs: 60_000,
      payload: (i) => JSON.stringify({ i }),
      kill: () => {
        hostA.kill();
        void hostA.exited.then(() => {
          hostA = startA();
        });
      },
    });
    await sink.waitFor(() => new Set(sink.items<{ i: number }>().map((x) => x.i)).size === TOTAL, 60_000, 'all messages at the sink');
    const received = sink.items<{ i: number }>().map((x) => x.i);
    const distinct = new Set(received);
    t.diagnostic(
      `sink: ${received.length} items, ${distinct.size} distinct, ${received.length - distinct.size} duplicates; ${ackedBeforeKill.length} acknowledged before the kill`,
    );
    for (const i of ackedBeforeKill) assert.ok(distinct.has(i), `message ${i} was acknowledged by host A before the kill but never reached host B`);
    assert.equal(distinct.size, TOTAL);
    assert.ok(killed, 'host A was killed during the run');
    // After the restart, the bridge recovered its queue before connecting.
    assert.ok(hostA.lines.some((l) => l.bridge === 'site' && /connected to/.test(l.msg)));
  } finally {
    client?.end(true);
    hostA.kill();
    hostB.kill();
    await sink.close();
    await broker.stop();
  }
});
