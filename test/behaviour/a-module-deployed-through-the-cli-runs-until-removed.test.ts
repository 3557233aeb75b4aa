// The edgehost CLI as an operator uses it against a running host (a real host
// process, real MQTT clients): `deploy` adds an MQTT server module and a
// telemetry module while the host runs, the readings reach an MQTT
// subscriber, `ls` shows both, and `rm` removes the server and frees its port.
// The CLI finds the admin API's address and token through --data-dir alone.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { adminOf, cli, entryOf } from '../support/admin.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { driver, server, telemetry } from '../support/modules.ts';
import { moduleWasm, tempDir } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';

test('modules deployed with `edgehost deploy` run and show in `edgehost ls`; `edgehost rm` removes one and frees its listener', async () => {
  const port = await freePort();
  const dataDir = tempDir();
  // The config file's only module does nothing: everything else comes through the CLI.
  const host = new HostProcess(['--config', writeConfig({ modules: { idle: driver(['idle/#'], []) } }), '--data-dir', dataDir]);
  let client: mqtt.MqttClient | undefined;
  try {
    await adminOf(host);
    const dir = tempDir();
    const brokerEntry = join(dir, 'broker.json');
    writeFileSync(brokerEntry, JSON.stringify(entryOf(server(`127.0.0.1:${port}`))));
    const sensorsEntry = join(dir, 'sensors.json');
    writeFileSync(sensorsEntry, JSON.stringify(entryOf(telemetry({ 'interval-ms': 50, devices: ['s1'] }))));
    const at = ['--data-dir', dataDir];

    const broker = await cli(['deploy', 'broker', moduleWasm('server'), '--module', brokerEntry, ...at]);
    assert.equal(broker.code, 0, broker.stderr);
    assert.match(broker.stdout, /^added module broker \(world server, component [0-9a-f]{12}\): ready\n$/);

    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0 });
    client.on('error', () => {});
    await client.subscribeAsync('telemetry/#', { qos: 0 });
    const reading = new Promise<{ topic: string; payload: string }>((resolve) =>
      client!.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })),
    );

    const sensors = await cli(['deploy', 'sensors', moduleWasm('telemetry'), '--module', sensorsEntry, ...at]);
    assert.equal(sensors.code, 0, sensors.stderr);
    const first = await reading;
    assert.equal(first.topic, 'telemetry/s1');
    assert.equal(JSON.parse(first.payload).deviceId, 's1');

    const ls = await cli(['ls', ...at]);
    assert.equal(ls.code, 0, ls.stderr);
    const rows = ls.stdout.trim().split('\n');
    assert.match(rows[0], /^NAME\s+WORLD\s+STATE\s+SOURCE\s+RESTARTS\s+QUEUED\s+READY SINCE\s+DIGEST$/);
    assert.match(ls.stdout, /^broker\s+server\s+ready\s+api\s+0\s+\d+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+[0-9a-f]{12}$/m);
    assert.match(ls.stdout, /^sensors\s+telemetry\s+ready\s+api\s/m);
    assert.match(ls.stdout, /^idle\s+telemetry\s+ready\s+config\s/m);
    const json = await cli(['ls', '--json', ...at]);
    const listed = JSON.parse(json.stdout).modules as { name: string; source: string; state: string }[];
    assert.deepEqual(
      listed.map((m) => [m.name, m.source, m.state]),
      [
        ['broker', 'api', 'ready'],
        ['idle', 'config', 'ready'],
        ['sensors', 'api', 'ready'],
      ],
    );

    const c = client;
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    const rm = await cli(['rm', 'broker', ...at]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /^removed module broker/);
    await closed;
    const refused = net.connect(port, '127.0.0.1');
    const [error] = await once(refused, 'error');
    assert.equal((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');

    const after = await cli(['ls', '--json', ...at]);
    assert.deepEqual(
      (JSON.parse(after.stdout).modules as { name: string }[]).map((m) => m.name),
      ['idle', 'sensors'],
    );
    const again = await cli(['rm', 'broker', ...at]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'edgehost: EH_MODULE_NOT_FOUND: no module named broker\n');
  } finally {
    client?.end(true);
    host.kill();
  }
});
