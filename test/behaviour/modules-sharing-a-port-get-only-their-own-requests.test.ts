// Two modules on one address, routed by Host header and path: a standard wasi:http/proxy
// component (hello) and the web module. Each gets only the requests its routes claim, the most
// specific route winning; a request for neither gets 404 from the host.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { httpRequest } from '../support/http-client.ts';
import { httpGuest, web } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

test('two modules on one port each get only their own requests; a request for neither gets 404', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const config = writeConfig({
    modules: {
      hello: httpGuest(address, { routes: ['hello.example', '/hello'] }),
      web: web(address, { routes: ['web.example', '*.web.example/latest'] }),
    },
  });
  const host = new HostProcess(['--config', config]);
  const get = async (hostHeader: string, path: string) => {
    const r = await httpRequest(address, { path, headers: { host: hostHeader } });
    return {
      status: r.status,
      who: r.body.startsWith('hello from') ? 'hello' : r.headers['content-type']?.startsWith('application/json') ? 'web' : r.body.trim(),
    };
  };
  try {
    await host.ready(['hello', 'web']);
    assert.deepEqual(await get('hello.example', '/latest'), { status: 200, who: 'hello' });
    assert.deepEqual(await get('web.example:8080', '/latest'), { status: 200, who: 'web' });
    assert.deepEqual(await get('eu.web.example', '/latest?x=1'), { status: 200, who: 'web' });
    // An exact host beats a path on any host; the path route takes the other hosts.
    assert.deepEqual(await get('web.example', '/hello'), { status: 404, who: 'no page /hello' });
    assert.deepEqual(await get('elsewhere.test', '/hello/there'), { status: 200, who: 'hello' });
    assert.deepEqual(await get('elsewhere.test', '/latest'), { status: 404, who: 'no module serves elsewhere.test/latest' });
    assert.deepEqual(await get('eu.web.example', '/'), { status: 404, who: 'no module serves eu.web.example/' });
    const listening = host.lines.filter((l) => l.msg === 'listening for HTTP');
    assert.equal(listening.length, 1, 'one listener for both');
  } finally {
    await host.stop();
  }
});
