// The http-server capability's two halves together in this process (support.ts), with real
// HTTP clients and servers on loopback: routing on a shared address, streaming with bounded
// memory, the host's own answers (404, 413, 431, 500, 503, 504) and outgoing requests.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { WINDOW } from '../../../../host/capabilities/http-server/body-streams.ts';
import { HostError } from '../../../../host/errors.ts';
import { freePort } from '../../../support/ports.ts';
import { bytes, type Guest, readAll, respond, wire } from './support.ts';

const bindings: { close?(): void | Promise<void> }[] = [];
after(async () => {
  for (const b of bindings) await b.close?.();
});

async function serve(opts: Parameters<typeof wire>[0]) {
  const port = await freePort();
  const w = wire({ ...opts, grant: { listen: [`127.0.0.1:${port}`], ...opts.grant } });
  bindings.push(w.binding);
  await w.startup[0];
  return { ...w, port };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(port: number, opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | Readable } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body instanceof Readable) opts.body.pipe(req);
    else req.end(opts.body);
  });
}

/** `n` bytes of a fixed pattern, produced as they are read. */
function generated(n: number, chunk = 64 * 1024): Readable {
  let left = n;
  const block = Buffer.alloc(chunk, 'edgehost');
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const size = Math.min(chunk, left);
      left -= size;
      this.push(block.subarray(0, size));
    },
  });
}

const hello: Guest = async (imports, request, out) => {
  const path = request.pathWithQuery();
  await respond(imports, out, 200, (s) => void s.blockingWriteAndFlush(bytes(`hello ${request.authority()} ${path}`)), [['content-type', 'text/plain']]);
};

test('a 50 MB body streams in and a 50 MB body out, with at most a window in flight each way', async () => {
  const size = 50 * 1024 * 1024;
  const { port, traffic } = await serve({
    guest: async (imports, request, out) => {
      const input = request.consume().val.stream().val;
      await respond(imports, out, 200, async (output) => {
        await readAll(input, async (chunk) => void (await output.blockingWriteAndFlush(chunk)));
      });
    },
  });
  const sent = createHash('sha256');
  const body = generated(size);
  body.on('data', (c: Buffer) => sent.update(c));
  const got = createHash('sha256');
  let received = 0;
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', agent: false }, (res) => {
      res.on('data', (c: Buffer) => {
        received += c.length;
        got.update(c);
      });
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    body.pipe(req);
  });
  assert.equal(status, 200);
  assert.equal(received, size);
  assert.equal(got.digest('hex'), sent.digest('hex'));
  // One chunk may land on a full window.
  assert.ok(traffic.maxToWorker <= WINDOW + 64 * 1024, `to the worker: ${traffic.maxToWorker}`);
  assert.ok(traffic.maxFromWorker <= WINDOW + 64 * 1024, `from the worker: ${traffic.maxFromWorker}`);
});

test('a guest that does not read its request body pauses the request: only a window of it is taken', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let called!: () => void;
  const guestCalled = new Promise<void>((r) => {
    called = r;
  });
  const { port, traffic } = await serve({
    guest: async (imports, _request, out) => {
      called();
      await released;
      await respond(imports, out, 200, (s) => void s.blockingWriteAndFlush(bytes('ignored your body')));
    },
  });
  const reply = request(port, { method: 'POST', path: '/', body: generated(16 * 1024 * 1024) });
  await guestCalled;
  // Let the client push what the sockets will take.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(traffic.maxToWorker <= WINDOW + 64 * 1024, `taken while the guest did not read: ${traffic.maxToWorker}`);
  release();
  const r = await reply;
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'ignored your body');
});

test('a client that does not read holds the guest at the window: its writes wait until the client reads again', async () => {
  const size = 64 * 1024 * 1024;
  let written = 0;
  const { port, traffic } = await serve({
    guest: async (imports, _request, out) => {
      await respond(imports, out, 200, async (output) => {
        const block = new Uint8Array(64 * 1024);
        for (let left = size; left > 0; left -= block.length) {
          await output.blockingWriteAndFlush(block);
          written += block.length;
        }
      });
    },
  });
  const res = await new Promise<http.IncomingMessage>((resolve) => http.get({ host: '127.0.0.1', port, path: '/', agent: false }, resolve));
  res.pause();
  // Until nothing more moves: the window, Node's buffer and the sockets' buffers hold what was written.
  let last = -1;
  while (written !== last) {
    last = written;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.ok(written < 24 * 1024 * 1024, `the guest wrote ${written} bytes to a client that read nothing`);
  assert.ok(traffic.maxFromWorker <= WINDOW + 64 * 1024);
  let received = 0;
  res.on('data', (c: Buffer) => {
    received += c.length;
  });
  res.resume();
  await once(res, 'end');
  assert.equal(received, size);
});

test('modules sharing an address get only their routes; a request for neither gets 404 from the host; a third claiming a taken route is refused', async () => {
  const port = await freePort();
  const shared = new Map<string, unknown>();
  const address = `127.0.0.1:${port}`;
  const calls: string[] = [];
  const named =
    (name: string): Guest =>
    async (imports, request, out) => {
      calls.push(name);
      await respond(imports, out, 200, (s) => void s.blockingWriteAndFlush(bytes(`${name} ${request.pathWithQuery()}`)));
    };
  const a = wire({ name: 'a', shared, grant: { listen: [address], routes: ['a.example', '/shared'] }, guest: named('a') });
  const b = wire({ name: 'b', shared, grant: { listen: [address], routes: ['b.example', '*.b.example/api'] }, guest: named('b') });
  bindings.push(a.binding, b.binding);
  await Promise.all([a.startup[0], b.startup[0]]);
  const get = (host: string, path: string) => request(port, { path, headers: { host } }).then((r) => `${r.status} ${r.body.toString().trim()}`);
  assert.equal(await get('a.example', '/x'), '200 a /x');
  assert.equal(await get('b.example', '/shared'), '200 b /shared', 'an exact host beats a path on any host');
  assert.equal(await get('x.b.example:8080', '/api/v1'), '200 b /api/v1');
  assert.equal(await get('elsewhere.test', '/shared/y'), '200 a /shared/y');
  assert.equal(await get('x.b.example', '/other'), '404 no module serves x.b.example/other');
  assert.deepEqual(calls, ['a', 'b', 'b', 'a']);
  assert.throws(
    () => wire({ name: 'c', shared, grant: { listen: [address], routes: ['/shared'] }, guest: named('c') }),
    (e: unknown) =>
      e instanceof HostError &&
      e.code === 'EH_CONFIG_INVALID' &&
      e.message.includes('modules.a.grants.http.routes[1] "/shared" and modules.c.grants.http.routes[0] "/shared" claim the same route'),
  );
  // Removing a module frees its routes.
  await a.binding.close?.();
  assert.equal(await get('a.example', '/x'), '404 no module serves a.example/x');
});

test('requests are handled one at a time, in order; past limits.httpMaxConcurrentRequests they get 503 with Retry-After', async () => {
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const { port } = await serve({
    limits: { httpMaxConcurrentRequests: 2 },
    guest: async (imports, request, out) => {
      const path = request.pathWithQuery();
      order.push(`start ${path}`);
      if (path === '/1') await gate;
      order.push(`end ${path}`);
      await respond(imports, out, 200, (s) => void s.blockingWriteAndFlush(bytes(path)));
    },
  });
  const first = request(port, { path: '/1' });
  while (order.length === 0) await new Promise((r) => setTimeout(r, 10));
  const second = request(port, { path: '/2' });
  const third = await request(port, { path: '/3' });
  assert.equal(third.status, 503);
  assert.equal(third.headers['retry-after'], '1');
  release();
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
  assert.deepEqual(order, ['start /1', 'end /1', 'start /2', 'end /2']);
});

test('a body over limits.httpMaxBodyBytes gets 413: at once when declared, as it arrives when chunked', async () => {
  let calls = 0;
  let readError = '';
  let handled = Promise.resolve();
  const { port } = await serve({
    limits: { httpMaxBodyBytes: 1024 * 1024 },
    guest: async (imports, request, out) => {
      calls++;
      let done!: () => void;
      handled = new Promise((r) => {
        done = r;
      });
      const input = request.consume().val.stream().val;
      try {
        const n = await readAll(input);
        await respond(imports, out, 200, (s) => void s.blockingWriteAndFlush(bytes(String(n))));
      } catch (e) {
        readError = (e as Error).message;
        // Dropped: the host has answered 413 already.
        await respond(imports, out, 400, (s) => void s.blockingWriteAndFlush(bytes('unread')));
      }
      done();
    },
  });
  const declared = await request(port, { method: 'POST', headers: { 'content-length': String(2 * 1024 * 1024) }, body: Buffer.alloc(2 * 1024 * 1024) });
  assert.equal(declared.status, 413);
  assert.match(declared.body.toString(), /larger than 1048576 bytes \(limits\.httpMaxBodyBytes\)/);
  assert.equal(calls, 0, 'the module never saw it');
  const chunked = await request(port, { method: 'POST', body: generated(3 * 1024 * 1024) });
  assert.equal(chunked.status, 413);
  assert.equal(calls, 1);
  await handled;
  assert.match(readError, /larger than the limit of 1048576 bytes/);
  const small = await request(port, { method: 'POST', body: Buffer.alloc(1000) });
  assert.deepEqual([small.status, small.body.toString()], [200, '1000']);
});

test('headers over limits.httpMaxHeaderBytes get 431', async () => {
  const { port } = await serve({ limits: { httpMaxHeaderBytes: 1024 }, guest: hello });
  assert.equal((await request(port, { headers: { 'x-big': 'x'.repeat(2000) } })).status, 431);
  assert.equal((await request(port, { headers: { 'x-small': 'x' } })).status, 200);
});

test('a handler past limits.httpRequestTimeoutMs gets 504, and its waits fail from then on (ending the instance)', async () => {
  let failure = '';
  const { port, traffic } = await serve({
    limits: { httpRequestTimeoutMs: 300 },
    guest: async (_imports, request) => {
      const input = request.consume().val.stream().val;
      try {
        await readAll(input);
      } catch (e) {
        failure = (e as Error).message;
      }
    },
  });
  // A client that sends its head and part of the body, then stalls.
  const socket = net.connect(port, '127.0.0.1');
  socket.write('POST /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc');
  let answer = '';
  socket.on('data', (c: Buffer) => {
    answer += c.toString();
  });
  await once(socket, 'close');
  assert.match(answer, /^HTTP\/1\.1 504 /);
  assert.ok(traffic.ops.includes('svc>expire'));
  while (!failure) await new Promise((r) => setTimeout(r, 10));
  assert.match(failure, /ran past its deadline of 300 ms \(limits\.httpRequestTimeoutMs\)/);
});

test('a handler that sets no response, or an error code, gets 500', async () => {
  const { port } = await serve({
    guest: async (imports, request, out) => {
      if (request.pathWithQuery() === '/error')
        imports['wasi:http/types'].ResponseOutparam.set(out, { tag: 'err', val: { tag: 'internal-error', val: 'boom' } });
    },
  });
  assert.equal((await request(port, { path: '/none' })).status, 500);
  assert.equal((await request(port, { path: '/error' })).status, 500);
});

test('request heads reach the guest as wasi:http sees them; response headers it may not set are refused', async () => {
  let seen: unknown;
  const { port } = await serve({
    guest: async (imports, request, out) => {
      const t = imports['wasi:http/types'];
      const headers = request.headers();
      seen = {
        method: request.method(),
        path: request.pathWithQuery(),
        scheme: request.scheme(),
        authority: request.authority(),
        echo: new TextDecoder().decode(headers.get('X-Echo')[0]),
        immutable: (() => {
          try {
            headers.set('x', []);
          } catch (e) {
            return e;
          }
        })(),
        forbidden: (() => {
          try {
            t.Fields.fromList([['connection', bytes('close')]]);
          } catch (e) {
            return e;
          }
        })(),
      };
      await respond(imports, out, 201, (s) => void s.blockingWriteAndFlush(bytes('made')), [['x-made', 'yes']]);
    },
  });
  const r = await request(port, { method: 'PURGE', path: '/cache?all=1', headers: { 'x-echo': 'ping', host: 'h.example:81' } });
  assert.deepEqual([r.status, r.headers['x-made'], r.body.toString()], [201, 'yes', 'made']);
  assert.deepEqual(seen, {
    method: { tag: 'other', val: 'PURGE' },
    path: '/cache?all=1',
    scheme: { tag: 'HTTP' },
    authority: 'h.example:81',
    echo: 'ping',
    immutable: { tag: 'immutable' },
    forbidden: { tag: 'forbidden' },
  });
});

test('an outgoing request to a host not granted fails with HTTP-request-denied and opens no connection; a granted one streams its answer', async () => {
  let connections = 0;
  const target = http.createServer((_req, res) => res.end('from the target'));
  target.on('connection', () => connections++);
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  const granted = http.createServer((_req, res) => res.end('from the granted host'));
  granted.listen(0, '127.0.0.1');
  await once(granted, 'listening');
  after(() => {
    target.close();
    granted.close();
  });
  const targetPort = (target.address() as net.AddressInfo).port;
  const grantedPort = (granted.address() as net.AddressInfo).port;
  const { port, worker } = await serve({
    grant: { allowedHosts: [`127.0.0.1:${grantedPort}`] },
    guest: async (imports, request, out) => {
      const t = imports['wasi:http/types'];
      const req = new t.OutgoingRequest(new t.Fields());
      req.setScheme({ tag: 'HTTP' });
      req.setAuthority(request.pathWithQuery().slice(1));
      req.setPathWithQuery('/x');
      const sent = imports['wasi:http/outgoing-handler'].handle(req, undefined);
      let answer = sent.tag === 'err' ? `error ${sent.val.tag}` : '';
      if (sent.tag === 'ok') {
        const future = sent.val;
        // get() hands the result out once: wait for it, then take it.
        let result = future.get();
        while (result === undefined) {
          await future.subscribe().block();
          result = future.get();
        }
        const incoming = result.val.val;
        let text = '';
        await readAll(incoming.consume().val.stream().val, (c) => {
          text += new TextDecoder().decode(c);
        });
        answer = `status ${incoming.status()}: ${text}`;
      }
      await respond(imports, out, 200, (s) => void s.blockingWriteAndFlush(bytes(answer)));
    },
  });
  const denied = await request(port, { path: `/127.0.0.1:${targetPort}` });
  assert.equal(denied.body.toString(), 'error HTTP-request-denied');
  assert.equal(connections, 0);
  assert.deepEqual(worker.denials, [
    {
      target: `http://127.0.0.1:${targetPort}`,
      allowWith: `--web-http-allowed-host 127.0.0.1:${targetPort} (or modules.web.grants.http.allowedHosts)`,
    },
  ]);
  const allowed = await request(port, { path: `/127.0.0.1:${grantedPort}` });
  assert.equal(allowed.body.toString(), 'status 200: from the granted host');
});

test('a replaced module keeps its listener and takes its new routes; a new route another module has is refused and changes nothing', async () => {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const shared = new Map<string, unknown>();
  const named =
    (name: string): Guest =>
    async (imports, _request, out) =>
      respond(imports, out, 200, (s) => void s.blockingWriteAndFlush(bytes(name)));
  const a = wire({ name: 'a', shared, grant: { listen: [address], routes: ['/old'] }, guest: named('a') });
  const b = wire({ name: 'b', shared, grant: { listen: [address], routes: ['/b'] }, guest: named('b') });
  bindings.push(a.binding, b.binding);
  await Promise.all([a.startup[0], b.startup[0]]);
  // A connection kept open across the change: the listener is not closed under it.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<string>((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c;
          });
          res.on('end', () => resolve(`${res.statusCode} ${text.trim()}`));
        })
        .on('error', reject),
    );
  assert.equal(await get('/old'), '200 a');
  a.binding.update?.({ listen: [address], routes: ['/new'], allowedHosts: [] }, {});
  assert.equal(await get('/new'), '200 a');
  assert.equal(await get('/old'), `404 no module serves 127.0.0.1:${port}/old`);
  assert.throws(
    () => a.binding.update?.({ listen: [address], routes: ['/b'], allowedHosts: [] }, {}),
    (e: unknown) => e instanceof HostError && e.message.includes('modules.b.grants.http.routes[0] "/b" and modules.a.grants.http.routes[0] "/b"'),
  );
  assert.equal(await get('/new'), '200 a');
  agent.destroy();
});
