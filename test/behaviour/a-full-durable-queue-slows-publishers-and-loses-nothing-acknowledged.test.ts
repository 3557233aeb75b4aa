// The uplink is down, and MQTT clients publish more at QoS 1 than the gateway's
// durable queue may hold. The queue does not drop its oldest: past its capacity
// the server module is told `full`, does not acknowledge, and closes the
// publisher with 0x97 (quota exceeded), so the client resends later. When the
// sink is back, every message a client saw acknowledged arrives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, server } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

const MESSAGES = 600;

test('with the sink down, publishers past the durable queue budget are slowed, and every acknowledged message arrives once it is back', async (t) => {
  const sink = await new HttpSink().listen();
  sink.respond = () => 503;
  const port = await freePort();
  const config = writeConfig({
    modules: {
      server: server(`127.0.0.1:${port}`),
      // 16 KiB of queue: about 100 of these messages.
      uplink: gateway(sink.url, 'readings/#', { delivery: { durable: true, capacityBytes: 16 * 1024, maxBatch: 50 } }),
    },
  });
  const host = new HostProcess(['--config', config]);
  let client: mqtt.MqttClient | undefined;
  try {
    await host.ready(['server', 'uplink']);
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'publisher', clean: false, reconnectPeriod: 200, protocolVersion: 5 });
    let disconnects = 0;
    client.on('disconnect', (packet) => {
      if (packet.reasonCode === 0x97) disconnects++;
    });
    const acked = new Set<number>();
    const body = (n: number) => JSON.stringify({ n, pad: 'x'.repeat(120) });
    // All at once: MQTT.js keeps what is not acknowledged and sends it again after a reconnect.
    const all = Array.from({ length: MESSAGES }, (_, n) => client!.publishAsync(`readings/${n % 4}`, body(n), { qos: 1 }).then(() => acked.add(n)));
    await host.waitForLog((l) => l.module === 'server' && /queue .* is full/.test(l.msg), 30_000, 'a publish refused as full');
    assert.ok(acked.size < MESSAGES, 'everything was acknowledged although the queue was full');
    const ackedWhileDown = acked.size;
    sink.respond = () => 200;
    await Promise.all(all);
    await sink.waitFor(() => new Set(sink.items<{ n: number }>().map((x) => x.n)).size === MESSAGES, 60_000, 'every acknowledged message at the sink');
    const received = sink.items<{ n: number }>().map((x) => x.n);
    const distinct = new Set(received);
    for (const n of acked) assert.ok(distinct.has(n), `message ${n} was acknowledged but never arrived`);
    t.diagnostic(
      `${ackedWhileDown} acknowledged while the sink was down; ${disconnects} publisher disconnects with 0x97; ${received.length - distinct.size} duplicates`,
    );
    assert.ok(disconnects > 0, 'the publisher was never held back');
    assert.equal(
      host.lines.filter((l) => l.module === 'uplink' && /dropping per its delivery.overflow/.test(l.msg)).length,
      0,
      'the durable queue dropped messages',
    );
  } finally {
    await client?.endAsync(true);
    host.kill();
    await sink.close();
  }
});
