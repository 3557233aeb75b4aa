// A handler past its deadline gets 504 and its module is restarted, whether it is busy (a loop:
// the call deadline's watchdog ends it) or waiting (on a client that stops sending its body:
// its waits fail once the request's deadline, limits.httpRequestTimeoutMs, has passed). The
// module answers again after its restart.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { httpRequest } from '../support/http-client.ts';
import { httpGuest } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

test('a busy handler and a waiting one each get 504 at the deadline, and the module restarts and serves again', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const config = writeConfig({
    modules: { hello: { ...httpGuest(address, { limits: { httpRequestTimeoutMs: 1000, callDeadlineMs: 1500 } }), restart: { initialBackoffMs: 50 } } },
  });
  const host = new HostProcess(['--config', config]);
  const readyCount = () => host.lines.filter((l) => l.msg === 'module hello ready').length;
  try {
    await host.ready(['hello']);

    const started = Date.now();
    const spin = await httpRequest(address, { path: '/spin' });
    assert.equal(spin.status, 504);
    assert.ok(Date.now() - started < 2500, `504 after ${Date.now() - started} ms`);
    await host.waitForLog((l) => l.code === 'EH_MODULE_DEADLINE', 10_000, 'the busy instance ended by the watchdog');
    await host.waitForLog((l) => l.msg === 'module hello ready' && l.restarts === 1, 20_000, 'the first restart');
    assert.equal((await httpRequest(address, { path: '/after-spin' })).status, 200);

    // A client that sends its head and part of a body, then nothing.
    const socket = net.connect(Number(address.split(':')[1]), '127.0.0.1');
    socket.write('POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nfirst bytes');
    let answer = '';
    socket.on('data', (c: Buffer) => {
      answer += c.toString();
    });
    await once(socket, 'close');
    // The echo had begun its response: the host cuts the connection rather than send a partial body as whole.
    assert.ok(!/^HTTP\/1\.1 200 [\s\S]*\r\n0\r\n\r\n$/.test(answer), 'no complete response');
    const deadline = await host.waitForLog((l) => l.code === 'EH_HTTP_DEADLINE' && l.path === '/echo', 10_000, 'the waiting handler past its deadline');
    assert.match(String(deadline.msg), /ran past its deadline of 1000 ms \(limits\.httpRequestTimeoutMs\): answered 504/);
    await host.waitForLog(
      (l) => l.code === 'EH_MODULE_TRAP' && /the handler of POST \/echo ran past its deadline/.test(String(l.msg)),
      10_000,
      'the instance ended',
    );
    await host.waitForLog((l) => l.msg === 'module hello ready' && l.restarts === 2, 20_000, 'the second restart');
    assert.equal(readyCount(), 3);
    assert.equal((await httpRequest(address, { path: '/after-wait' })).body, 'hello from a wasi:http/proxy component: GET /after-wait\n');
  } finally {
    await host.stop();
  }
});
