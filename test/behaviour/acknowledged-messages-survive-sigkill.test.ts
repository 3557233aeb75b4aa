// The host is SIGKILLed at a random moment while an MQTT client publishes 5,000
// messages at QoS 1, then restarted on the same --data-dir. Every message must
// reach the HTTP sink: the ones the client saw acknowledged were committed to
// the gateway's durable queue before the PUBACK left, and the client resends
// the rest. Duplicates are allowed, counted and reported.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, server } from '../support/modules.ts';
import { tempDir } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';
import { publishThroughKill } from '../support/publish-through-kill.ts';

const TOTAL = 5000;
const WINDOW = 64;

test('after SIGKILL and a restart on the same data dir, all 5,000 messages published at QoS 1 reach the sink', async (t) => {
  const sink = await new HttpSink().listen();
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = writeConfig({
    modules: {
      server: server(address),
      gateway: { ...gateway(sink.url, 'load/#', { delivery: { maxBatch: 256, lingerMs: 20, durable: true, maxAttempts: 0 } }) },
    },
  });
  const dataDir = tempDir();
  const start = () => new HostProcess(['--config', config, '--data-dir', dataDir]);
  let host = start();
  let client: mqtt.MqttClient | undefined;
  try {
    await host.ready(['server', 'gateway']);
    client = await mqtt.connectAsync(`mqtt://${address}`, {
      clientId: 'crash-test',
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 100,
      connectTimeout: 2000,
    });
    client.on('error', () => {});
    const c = client;
    const killAt = 500 + Math.floor(Math.random() * 4000);
    t.diagnostic(`SIGKILL after ${killAt} acknowledged publishes`);
    const { ackedBeforeKill, killed } = await publishThroughKill(c, {
      total: TOTAL,
      window: WINDOW,
      killAt,
      timeoutMs: 90_000,
      payload: (i) => JSON.stringify({ i }),
      kill: () => {
        host.kill();
        void host.exited.then(() => {
          host = start();
        });
      },
    });
    await sink.waitFor(() => new Set(sink.items<{ i: number }>().map((x) => x.i)).size === TOTAL, 60_000, 'all messages at the sink');
    const received = sink.items<{ i: number }>().map((x) => x.i);
    const distinct = new Set(received);
    t.diagnostic(
      `sink: ${received.length} items, ${distinct.size} distinct, ${received.length - distinct.size} duplicates; ${ackedBeforeKill.length} acknowledged before the kill`,
    );
    assert.equal(distinct.size, TOTAL);
    for (const i of ackedBeforeKill) assert.ok(distinct.has(i), `message ${i} was acknowledged before the kill but never reached the sink`);
    assert.ok(killed, 'the host was killed during the run');
  } finally {
    client?.end(true);
    host.kill();
    await sink.close();
  }
});
