// What was deployed through the admin API is what runs after a restart, even
// one after SIGKILL: a module added through the API is back, a config-file
// module replaced by another component runs that component, and one removed
// through the API stays removed. The config file is only the starting point.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminOf, entryOf } from '../support/admin.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver, gateway, telemetry } from '../support/modules.ts';
import { moduleWasm, tempDir, testGuestWasm } from '../support/paths.ts';

interface Info {
  name: string;
  digest: string;
  source: string;
  state: string;
  deployedAt?: string;
}

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test('after a deploy, a replace and a removal, SIGKILL and a restart on the same data dir run the deployed set', async () => {
  const sink = await new HttpSink().listen();
  const dataDir = tempDir();
  const gw = gateway(sink.url, 'telemetry/#', { delivery: { durable: true } });
  const config = writeConfig({ modules: { telemetry: telemetry({ 'interval-ms': 50 }), gateway: gw, spare: driver(['spare/#'], []) } });
  const start = () => new HostProcess(['--config', config, '--data-dir', dataDir]);
  let host = start();
  try {
    let admin = await adminOf(host);
    const added = await admin.deploy('sensors', moduleWasm('telemetry'), entryOf(telemetry({ 'interval-ms': 50, devices: ['x1'] })));
    assert.equal(added.status, 201, JSON.stringify(added.json));
    const replaced = await admin.deploy('gateway', testGuestWasm('gateway-b'), entryOf(gw));
    assert.equal(replaced.status, 200, JSON.stringify(replaced.json));
    const removed = await admin.request('DELETE', '/v1/modules/spare');
    assert.equal(removed.status, 200, JSON.stringify(removed.json));
    assert.deepEqual(removed.json, { removed: 'spare', drained: true, leftQueued: 0 });
    const expected = [
      ['gateway', digest(testGuestWasm('gateway-b')), 'api'],
      ['sensors', digest(moduleWasm('telemetry')), 'api'],
      ['telemetry', digest(moduleWasm('telemetry')), 'config'],
    ];
    const listed = async () => (await admin.request<{ modules: Info[] }>('GET', '/v1/modules')).json.modules;
    assert.deepEqual(
      (await listed()).map((m) => [m.name, m.digest, m.source]),
      expected,
    );

    host.kill();
    await host.exited;
    host = start();
    admin = await adminOf(host);
    const after = await listed();
    assert.deepEqual(
      after.map((m) => [m.name, m.digest, m.source]),
      expected,
      'the deployed set, not the config file',
    );
    assert.ok(after.every((m) => m.state === 'ready'));
    assert.ok(after.find((m) => m.name === 'gateway')?.deployedAt);
    assert.ok(host.lines.some((l) => l.module === 'spare' && /removed through the admin API/.test(l.msg)));
    await host.waitForLog((l) => l.module === 'gateway' && l.msg === 'gateway build b', 10_000, 'the replaced gateway running its new build');
    // The restarted pipeline delivers: readings of the device the added module simulates reach the sink.
    await sink.waitFor(() => sink.items<{ deviceId: string }>().some((r) => r.deviceId === 'x1'), 20_000, 'a reading of the deployed module');

    // Stored components are exactly those the deployments refer to.
    assert.deepEqual(
      readdirSync(join(dataDir, 'components')).sort(),
      [`${digest(moduleWasm('telemetry'))}.wasm`, `${digest(testGuestWasm('gateway-b'))}.wasm`].sort(),
    );
    const state = JSON.parse(readFileSync(join(dataDir, 'deployments.json'), 'utf8'));
    assert.deepEqual(Object.keys(state.deployed).sort(), ['gateway', 'sensors']);
    assert.deepEqual(Object.keys(state.removed), ['spare']);
  } finally {
    host.kill();
    await sink.close();
  }
});
