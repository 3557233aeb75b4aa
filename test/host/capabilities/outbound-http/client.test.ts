import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { createClient } from '../../../../host/capabilities/outbound-http/client.ts';
import { type OutboundHttpGrant, outboundHttpGrant } from '../../../../host/capabilities/outbound-http/index.ts';
import type { HttpRequest } from '../../../../host/capabilities/outbound-http/types.ts';

/** A module's name and the refusals it was told about (what WorkerContext.denied logs). */
function fakeContext(moduleName = 'gateway') {
  return { moduleName, denials: [] as { target: string; allowWith: string }[], done: [] as (number | 'error')[] };
}

/** One instance's client; its pools are closed after all tests. */
function create(f: ReturnType<typeof fakeContext>, grant: OutboundHttpGrant, maxPending = 16) {
  const client = createClient({
    moduleName: f.moduleName,
    grant,
    maxPending,
    denied: (target, allowWith) => {
      f.denials.push({ target, allowWith });
      return `outbound-http: ${target} is not granted to module "${f.moduleName}"; to allow it: ${allowWith}`;
    },
    done: (status) => f.done.push(status),
  });
  cleanups.push(async () => client.close());
  return client;
}

const cleanups: (() => Promise<unknown>)[] = [];
after(() => Promise.all(cleanups.map((c) => c())));

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/** A real HTTP server on 127.0.0.1 that counts what reaches it. */
async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void = (_q, res) => res.end('ok')) {
  const seen: Seen[] = [];
  let connections = 0;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
    handler(req, res, body);
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { port, origin: `http://127.0.0.1:${port}`, seen, connections: () => connections };
}

const grantFor = (fields: Partial<OutboundHttpGrant>): OutboundHttpGrant => outboundHttpGrant.parse(fields);
const get = (url: string, more: Partial<HttpRequest> = {}): HttpRequest => ({ method: 'get', url, headers: [], ...more });

describe('allowed requests', () => {
  test('a POST gets its body and headers through and returns status, headers and body', async () => {
    const s = await serve((_req, res, body) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end(`got ${body.toString()}`);
    });
    const f = fakeContext();
    const host = create(f, grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    const r = await host.send({
      method: 'post',
      url: `${s.origin}/things?x=1`,
      headers: [
        ['Content-Type', 'application/json'],
        ['x-a', '1'],
        ['x-a', '2'],
        ['host', 'evil.example'],
        ['connection', 'close'],
        ['content-length', '999'],
        ['transfer-encoding', 'chunked'],
      ],
      body: new TextEncoder().encode('{"n":1}'),
    });
    assert.equal(r.tag, 'ok', JSON.stringify(r));
    assert.equal(r.val.status, 201);
    assert.equal(Buffer.from(r.val.body).toString(), 'got {"n":1}');
    assert.deepEqual(
      r.val.headers.filter(([n]) => n === 'set-cookie'),
      [
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
      ],
    );
    assert.ok(r.val.headers.some(([n, v]) => n === 'content-type' && v === 'text/plain'));

    const [req] = s.seen;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/things?x=1');
    assert.equal(req.body.toString(), '{"n":1}');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-a'], '1, 2');
    assert.equal(req.headers.host, `127.0.0.1:${s.port}`);
    assert.equal(req.headers['content-length'], '7');
    assert.equal(req.headers['transfer-encoding'], undefined);
    assert.equal(req.headers['user-agent'], 'edgehost/0.1');
  });

  test('a status code of 500 is a response, not retried', async () => {
    const s = await serve((_q, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    const r = await host.send(get(`${s.origin}/`));
    assert.equal(r.tag, 'ok');
    assert.equal(r.val.status, 503);
    assert.equal(s.seen.length, 1);
  });

  test('methods without a body (HEAD, DELETE) complete', async () => {
    const s = await serve((req, res) => res.end(req.method));
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    const head = await host.send({ method: 'head', url: `${s.origin}/`, headers: [] });
    assert.equal(head.tag, 'ok');
    assert.equal(head.val.body.length, 0);
    const del = await host.send({ method: 'delete', url: `${s.origin}/`, headers: [] });
    assert.equal(del.tag, 'ok');
    assert.equal(Buffer.from(del.val.body).toString(), 'DELETE');
    assert.deepEqual(
      s.seen.map((r) => r.method),
      ['HEAD', 'DELETE'],
    );
  });

  test('keep-alive: two sequential requests use one connection', async () => {
    const s = await serve();
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    for (let i = 0; i < 2; i++) assert.equal((await host.send(get(`${s.origin}/${i}`))).tag, 'ok');
    assert.equal(s.seen.length, 2);
    assert.equal(s.connections(), 1);
  });
});

describe('disallowed targets get no request', () => {
  test('a port that is not granted: denied, naming the target and the flag', async () => {
    const [allowed, other] = [await serve(), await serve()];
    const f = fakeContext();
    const host = create(f, grantFor({ allowedHosts: [`127.0.0.1:${allowed.port}`] }));
    const r = await host.send(get(`${other.origin}/secret`));
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'denied');
    assert.match((r.val as { val: string }).val, new RegExp(`http://127\\.0\\.0\\.1:${other.port}`));
    assert.equal(other.connections(), 0);
    assert.equal(f.denials.length, 1);
    assert.equal(f.denials[0].target, other.origin);
    assert.match(f.denials[0].allowWith, new RegExp(`--gateway-allowed-host 127\\.0\\.0\\.1:${other.port}\\b`));
  });

  test('any module is pointed at its own flag and config key', async () => {
    const s = await serve();
    const f = fakeContext('telemetry');
    const host = create(f, grantFor({}));
    const r = await host.send(get(`${s.origin}/`));
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'denied');
    assert.match(
      f.denials[0].allowWith,
      new RegExp(`^--telemetry-allowed-host 127\\.0\\.0\\.1:${s.port} \\(or modules\\.telemetry\\.grants\\.outboundHttp\\.allowedHosts\\)$`),
    );
    assert.equal(s.connections(), 0);
  });

  test('localhost granted does not grant 127.0.0.1', async () => {
    const s = await serve();
    const host = create(fakeContext(), grantFor({ allowedHosts: [`localhost:${s.port}`] }));
    const r = await host.send(get(`${s.origin}/`));
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'denied');
    assert.equal(s.connections(), 0);
  });

  test('a redirect to a target that is not granted: denied, nothing sent there', async () => {
    const target = await serve();
    const s = await serve((_q, res) => {
      res.writeHead(302, { location: `${target.origin}/landing` });
      res.end();
    });
    const f = fakeContext();
    const host = create(f, grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    const r = await host.send(get(`${s.origin}/`));
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'denied');
    assert.equal(s.seen.length, 1);
    assert.equal(target.connections(), 0);
    assert.equal(f.denials[0].target, target.origin);
  });
});

describe('redirects', () => {
  test('a redirect to a granted target is followed; 307 keeps the method and body', async () => {
    const target = await serve((req, res, body) => res.end(`${req.method} ${body.toString()}`));
    const s = await serve((_q, res) => {
      res.writeHead(307, { location: `${target.origin}/moved` });
      res.end();
    });
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`, `127.0.0.1:${target.port}`] }));
    const r = await host.send({ method: 'put', url: `${s.origin}/`, headers: [['authorization', 'Bearer t']], body: new TextEncoder().encode('data') });
    assert.equal(r.tag, 'ok');
    assert.equal(r.val.status, 200);
    assert.equal(Buffer.from(r.val.body).toString(), 'PUT data');
    assert.equal(target.seen[0].url, '/moved');
    // Another origin: credentials stay behind.
    assert.equal(target.seen[0].headers.authorization, undefined);
    assert.equal(s.seen[0].headers.authorization, 'Bearer t');
  });

  test('303 after a POST becomes a GET without body', async () => {
    const s = await serve((req, res, body) => {
      if (req.url === '/form') {
        res.writeHead(303, { location: '/result' });
        res.end();
      } else {
        res.end(`${req.method} ${body.length} ${req.headers['content-type'] ?? '-'}`);
      }
    });
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    const r = await host.send({ method: 'post', url: `${s.origin}/form`, headers: [['content-type', 'text/plain']], body: new TextEncoder().encode('x=1') });
    assert.equal(r.tag, 'ok');
    assert.equal(Buffer.from(r.val.body).toString(), 'GET 0 -');
  });

  test('more than 5 redirects is an error', async () => {
    const s = await serve((req, res) => {
      res.writeHead(301, { location: `/${Number(req.url?.slice(1)) + 1}` });
      res.end();
    });
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    const r = await host.send(get(`${s.origin}/0`));
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'network');
    assert.equal(s.seen.length, 6);
  });
});

describe('failures', () => {
  test('no response within the timeout', async () => {
    const s = await serve(() => {});
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    const r = await host.send(get(`${s.origin}/`, { timeoutMs: 100 }));
    assert.deepEqual(r, { tag: 'err', val: { tag: 'timeout' } });
  });

  test('a body that stalls after the headers is a timeout too', async () => {
    const s = await serve((_q, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
    });
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    assert.deepEqual(await host.send(get(`${s.origin}/`, { timeoutMs: 100 })), { tag: 'err', val: { tag: 'timeout' } });
  });

  test('a connection cut in the middle of the body is a network error, not a short response', async () => {
    const s = await serve((_q, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part', () => res.socket?.destroy());
    });
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    const r = (await host.send(get(`${s.origin}/`))) as { tag: string; val: { tag: string } };
    assert.deepEqual([r.tag, r.val.tag], ['err', 'network']);
  });

  test('the grant default timeout applies when the request gives none', async () => {
    const s = await serve(() => {});
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`], defaultTimeoutMs: 100 }));
    const r = await host.send(get(`${s.origin}/`));
    assert.deepEqual(r, { tag: 'err', val: { tag: 'timeout' } });
  });

  test('a response streaming past maxResponseBytes is cut: too-large', async () => {
    let stopped!: () => void;
    const serverStopped = new Promise<void>((r) => (stopped = r));
    const s = await serve((_q, res) => {
      const chunk = Buffer.alloc(16 * 1024, 1);
      // Without a content-length the host can only count; the server writes until the client goes away.
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on('drain', pump);
      res.on('close', stopped);
      pump();
    });
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`], maxResponseBytes: 64 * 1024 }));
    const r = await host.send(get(`${s.origin}/`));
    assert.deepEqual(r, { tag: 'err', val: { tag: 'too-large' } });
    await serverStopped;
  });

  test('a content-length over maxResponseBytes is too-large before the body arrives', async () => {
    const s = await serve((_q, res) => {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.write('x');
    });
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`], maxResponseBytes: 1024 }));
    assert.deepEqual(await host.send(get(`${s.origin}/`)), { tag: 'err', val: { tag: 'too-large' } });
  });

  test('connection refused is a network error', async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((r) => probe.close(r));
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${port}`] }));
    const r = await host.send(get(`http://127.0.0.1:${port}/`));
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'network');
    assert.match((r.val as { val: string }).val, /ECONNREFUSED/);
  });

  test('malformed requests are invalid and send nothing', async () => {
    const s = await serve();
    const host = create(fakeContext(), grantFor({ allowedHosts: [`127.0.0.1:${s.port}`], maxRequestBytes: 10 }));
    const cases: HttpRequest[] = [
      get('/relative'),
      get(`ftp://127.0.0.1:${s.port}/`),
      get(`http://user:pw@127.0.0.1:${s.port}/`),
      get(`${s.origin}/`, { headers: [['bad name', 'x']] }),
      get(`${s.origin}/`, { headers: [['x-ok', 'line\r\nbreak']] }),
      { method: 'post', url: `${s.origin}/`, headers: [], body: new Uint8Array(11) },
    ];
    for (const req of cases) {
      const r = await host.send(req);
      assert.equal(r.tag, 'err', JSON.stringify(req));
      assert.equal(r.val.tag, 'invalid', JSON.stringify(req));
    }
    assert.equal(s.connections(), 0);
  });
});

describe('accounting', () => {
  test('past maxPending requests in progress the next is limited, and none is sent for it', async () => {
    const waiting: http.ServerResponse[] = [];
    let bothArrived!: () => void;
    const arrived = new Promise<void>((r) => (bothArrived = r));
    const s = await serve((_q, res) => {
      if (waiting.push(res) === 2) bothArrived();
    });
    const f = fakeContext();
    const host = create(f, grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }), 2);
    const first = [host.send(get(`${s.origin}/1`)), host.send(get(`${s.origin}/2`))];
    await arrived;
    const r = await host.send(get(`${s.origin}/3`));
    assert.deepEqual(r, { tag: 'err', val: { tag: 'limited', val: '2 requests of this module are in progress (limits.maxPendingHttpRequests is 2)' } });
    for (const res of waiting) res.end('ok');
    assert.deepEqual(
      (await Promise.all(first)).map((x) => x.tag),
      ['ok', 'ok'],
    );
    assert.deepEqual(
      s.seen.map((x) => x.url),
      ['/1', '/2'],
    );
  });

  test('each request made is reported once, with its final status or error', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/here' });
        return res.end();
      }
      res.writeHead(req.url === '/here' ? 201 : 500);
      res.end();
    });
    const f = fakeContext();
    const host = create(f, grantFor({ allowedHosts: [`127.0.0.1:${s.port}`] }));
    await host.send(get(`${s.origin}/moved`));
    await host.send(get(`${s.origin}/broken`));
    await host.send(get(`http://127.0.0.1:${s.port + 1}/`)); // not granted: not made, not reported
    await host.send(get(`${s.origin}/slow`, { timeoutMs: 0 })); // invalid: not made
    assert.deepEqual(f.done, [201, 500]);
  });
});
