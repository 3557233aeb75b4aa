// Flags come from module names, not from the reference modules: a gateway
// component named `uplink` and a server component named `broker` are granted
// and configured by --uplink-allowed-host, --uplink-url and --broker-socket-address.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway } from '../support/modules.ts';
import { moduleWasm } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';

test('modules named uplink and broker work with --uplink-allowed-host, --uplink-url and --broker-socket-address', async () => {
  const sink = await new HttpSink().listen();
  const port = await freePort();
  // Neither grants nor addresses in the file: the flags give them.
  const uplink = { ...gateway('http://127.0.0.1:9/unused', 'sensors/#'), grants: { pubsub: { subscribe: ['sensors/#'] } } };
  const broker = { component: moduleWasm('server'), world: 'server', grants: { pubsub: { publish: ['#'], subscribe: ['#'] } }, delivery: { noLocal: true } };
  const config = writeConfig({ modules: { uplink, broker } });
  const host = new HostProcess([
    '--config',
    config,
    '--uplink-allowed-host',
    `127.0.0.1:${sink.port}`,
    '--uplink-url',
    sink.url,
    '--broker-socket-address',
    `127.0.0.1:${port}`,
  ]);
  try {
    await host.ready(['uplink', 'broker']);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await client.publishAsync('sensors/kitchen', JSON.stringify({ t: 21 }), { qos: 1 });
    await client.endAsync();
    await sink.waitFor(() => sink.items().length === 1, 20_000, 'the reading at the sink');
    assert.deepEqual(sink.items(), [{ t: 21 }]);
    assert.equal(sink.requests[0].url, '/ingest');
  } finally {
    host.kill();
    await sink.close();
  }
});
