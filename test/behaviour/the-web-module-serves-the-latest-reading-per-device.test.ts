// The reference web module (modules/web): fed by the bus, it serves the latest reading of each
// device as JSON (/latest) and as a status page (/); a reading posted to /readings lands on the
// bus, where the gateway forwards it like any telemetry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { eventually, httpRequest } from '../support/http-client.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry, web } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

interface Entry {
  topic: string;
  publishedAt: number;
  reading: { deviceId: string; temperature: number; seq?: number };
}

test('the web module shows the latest reading per device, and a posted reading lands on the bus', async () => {
  const sink = await new HttpSink().listen();
  const address = `127.0.0.1:${await freePort()}`;
  const config = writeConfig({ modules: { telemetry: telemetry(), web: web(address), gateway: gateway(sink.url, 'telemetry/hook-1') } });
  const host = new HostProcess(['--config', config]);
  try {
    await host.ready(['telemetry', 'web', 'gateway']);
    const latest = async () => JSON.parse((await httpRequest(address, { path: '/latest' })).body) as Record<string, Entry>;
    const seen = await eventually(async () => {
      const l = await latest();
      return l.d1 && l.d2 ? l : false;
    }, 'readings of d1 and d2');
    assert.equal(seen.d1.topic, 'telemetry/d1');
    assert.equal(seen.d1.reading.deviceId, 'd1');
    // Newer readings replace older ones.
    await eventually(async () => ((await latest()).d1.reading.seq ?? 0) > (seen.d1.reading.seq ?? 0), 'a newer reading of d1');

    const posted = await httpRequest(address, { method: 'POST', path: '/readings', body: JSON.stringify({ deviceId: 'hook-1', temperature: 42 }) });
    assert.deepEqual([posted.status, JSON.parse(posted.body)], [202, { topic: 'telemetry/hook-1' }]);
    await sink.waitFor(() => sink.items().length >= 1, 10_000, 'the posted reading at the gateway');
    assert.deepEqual(sink.items(), [{ deviceId: 'hook-1', temperature: 42 }]);
    await eventually(async () => (await latest())['hook-1'], 'the posted reading in /latest');

    const page = await httpRequest(address, { path: '/' });
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(page.body, /<td>hook-1<\/td><td>temperature: 42<\/td>/);
    assert.match(page.body, /<td>d2<\/td>/);
    const refused = await httpRequest(address, { method: 'POST', path: '/readings', body: '{"temperature": 1}' });
    assert.equal(refused.status, 400);
    assert.equal((await httpRequest(address, { method: 'DELETE', path: '/latest' })).status, 405);
  } finally {
    await host.stop();
    await sink.close();
  }
});
