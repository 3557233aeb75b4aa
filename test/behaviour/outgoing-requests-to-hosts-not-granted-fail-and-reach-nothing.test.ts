// A module's outgoing requests (wasi:http/outgoing-handler) reach only the hosts its grant names
// (grants.http.allowedHosts, the checker outbound-http uses): to any other, the request fails
// with the WASI error for a denied destination, HTTP-request-denied, and no connection is made
// to it; the refusal is logged once with what would allow it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { httpRequest } from '../support/http-client.ts';
import { HttpSink } from '../support/http-sink.ts';
import { httpGuest } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

test('an outgoing request to a host not granted fails with HTTP-request-denied and nothing reaches that host; a granted one goes through', async () => {
  // A real server that counts every connection made to it, HTTP or not.
  let connections = 0;
  const forbidden = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  forbidden.listen(0, '127.0.0.1');
  await once(forbidden, 'listening');
  const forbiddenPort = (forbidden.address() as net.AddressInfo).port;
  const granted = await new HttpSink().listen();
  const address = `127.0.0.1:${await freePort()}`;
  const config = writeConfig({ modules: { hello: httpGuest(address, { allowedHosts: [`127.0.0.1:${granted.port}`] }) } });
  const host = new HostProcess(['--config', config]);
  try {
    await host.ready(['hello']);
    for (const url of [`http://127.0.0.1:${forbiddenPort}/steal`, `http://localhost:${granted.port}/ingest`]) {
      const r = await httpRequest(address, { path: `/fetch?url=${encodeURIComponent(url)}` });
      assert.equal(r.body, 'error HTTP-request-denied', url);
    }
    assert.equal(connections, 0);
    const warning = await host.waitForLog((l) => l.code === 'EH_DENIED' && l.target === `http://127.0.0.1:${forbiddenPort}`, 5000, 'the denial');
    assert.equal(warning.allowWith, `--hello-http-allowed-host 127.0.0.1:${forbiddenPort} (or modules.hello.grants.http.allowedHosts)`);

    const ok = await httpRequest(address, { path: `/fetch?url=${encodeURIComponent(granted.url)}` });
    assert.equal(ok.body, 'status 200: ');
    assert.equal(granted.received.length, 1);
    assert.equal(connections, 0);
  } finally {
    await host.stop();
    forbidden.close();
    await granted.close();
  }
});
