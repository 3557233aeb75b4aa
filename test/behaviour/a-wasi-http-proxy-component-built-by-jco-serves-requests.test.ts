// A component built for the standard wasi:http/proxy world by jco (StarlingMonkey, from plain
// JavaScript that uses nothing from edgehost: test/fixtures/http-guests/hello), configured with
// `"world": "wasi:http/proxy"`, serves requests on the address its flag grants.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { httpGuestWasm } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';

test('a wasi:http/proxy component built by jco serves requests on its granted address', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const config = writeConfig({ modules: { hello: { component: httpGuestWasm('hello.sm'), world: 'wasi:http/proxy' } } });
  const host = new HostProcess(['--config', config, '--hello-http-address', address]);
  try {
    await host.ready(['hello']);
    const get = await fetch(`http://${address}/status?verbose=1`, { headers: { 'x-echo': 'ping' } });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('x-echo'), 'ping');
    assert.equal(get.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await get.text(), 'hello from a wasi:http/proxy component: GET /status?verbose=1\n');
    const post = await fetch(`http://${address}/submit`, { method: 'POST', body: 'ignored' });
    assert.equal(await post.text(), 'hello from a wasi:http/proxy component: POST /submit\n');
    const listening = await host.waitForLog((l) => l.msg === 'listening for HTTP', 1000, 'listening line');
    assert.deepEqual([listening.address, listening.modules], [address, ['hello']]);
  } finally {
    await host.stop();
  }
});
