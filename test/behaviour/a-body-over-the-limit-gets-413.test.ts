// A request body over the module's limit (limits.httpMaxBodyBytes) gets 413 from the host: at
// once when its Content-Length says so (the module never sees it), and as it arrives when it is
// sent chunked. The web module publishes what is posted to /readings, so /latest shows whether a
// body reached it.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { httpRequest } from '../support/http-client.ts';
import { web } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

const reading = (deviceId: string, padding: number) => JSON.stringify({ deviceId, temperature: 20, padding: 'x'.repeat(padding) });

test('a body over the limit gets 413, declared or chunked; one under it is handled', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const config = writeConfig({ modules: { web: web(address, { limits: { httpMaxBodyBytes: 16 * 1024 } }) } });
  const host = new HostProcess(['--config', config]);
  try {
    await host.ready(['web']);
    const declared = await httpRequest(address, { method: 'POST', path: '/readings', body: reading('declared', 40_000) });
    assert.equal(declared.status, 413);
    assert.match(declared.body, /larger than 16384 bytes \(limits\.httpMaxBodyBytes\)/);
    const chunked = await httpRequest(address, { method: 'POST', path: '/readings', body: Readable.from([reading('chunked', 40_000)]) });
    assert.equal(chunked.status, 413);
    const small = await httpRequest(address, { method: 'POST', path: '/readings', body: reading('small', 100) });
    assert.equal(small.status, 202, small.body);
    const latest = JSON.parse((await httpRequest(address, { path: '/latest' })).body);
    assert.deepEqual(Object.keys(latest), ['small']);
  } finally {
    await host.stop();
  }
});
