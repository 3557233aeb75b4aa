import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { WebSocket } from 'ws';
import { type SocketEvent, type SocketGrant, type SocketOps, socketGrant } from '../../../../host/capabilities/socket/index.ts';
import { bind, CALL_INPUT_BYTES, GUEST_BACKLOG_BYTES } from '../../../../host/capabilities/socket/service.ts';
import { create } from '../../../../host/capabilities/socket/worker.ts';
import { fakeService, fakeWorkerContext } from '../../../support/capability-fakes.ts';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

type Result = { tag: 'ok'; val: undefined } | { tag: 'err'; val: { tag: string; val: string } };
interface SocketImports {
  listen(address: string, subprotocol: string | undefined): Result;
  send(id: number, data: Uint8Array): Result;
  close(id: number): void;
}

/**
 * Both halves of the socket capability wired together in this process, as the
 * host wires them across a worker: the worker half's ops go to the service,
 * the service's events go to the worker half, which hands them to a fake
 * guest that records them. `gate` lets a test hold the guest's calls.
 */
function fakeContext(moduleName = 'server') {
  const events: SocketEvent[] = [];
  const batches: SocketEvent[][] = [];
  const logs: LogLine[] = [];
  const waiters: { check: () => boolean; resolve: () => void }[] = [];
  const wake = () => {
    for (const w of [...waiters]) if (w.check()) waiters.splice(waiters.indexOf(w), 1) && w.resolve();
  };
  let gate: Promise<void> = Promise.resolve();
  const logger = pino(
    { level: 'debug', base: { module: moduleName } },
    {
      write(line: string) {
        logs.push(JSON.parse(line));
        wake();
      },
    },
  );
  let toService: Record<string, (args: unknown) => unknown> = {};
  let toWorker: Record<string, (args: unknown) => unknown> = {};
  const service = fakeService<SocketOps>(moduleName, {
    logger,
    toWorker: { events: (batch) => toWorker.events(batch) as Promise<void>, written: (acks) => toWorker.written(acks) as undefined },
  });
  const worker = fakeWorkerContext<SocketOps>(moduleName, {
    logger,
    service: {
      request: (op, args) => Promise.resolve(toService[op](args)) as Promise<never>,
      notify: (op, args) => void toService[op](args),
      append: () => {},
    },
    callGuest(iface, fn, args) {
      assert.equal(iface, 'edgehost:platform/socket-handler');
      assert.equal(fn, 'handleEvents');
      const batch = args[0] as SocketEvent[];
      batches.push(batch);
      events.push(...batch);
      wake();
      return gate;
    },
  });
  let binding: ReturnType<typeof bind> | undefined;
  /** Resolves once `check` holds, re-checked whenever an event or log line arrives. */
  const until = (check: () => boolean) => (check() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ check, resolve })));
  return {
    /** The guest's socket imports for `grant`, with the service bound and an instance ready. */
    create(grant: SocketGrant): SocketImports {
      binding = bind(service.host, service.module, grant);
      toService = binding.handlers as unknown as typeof toService;
      const imports = create(worker.ctx, grant)['edgehost:platform/socket'] as unknown as SocketImports;
      toWorker = worker.handlers() as unknown as typeof toWorker;
      binding.instanceStarting?.(1);
      binding.instanceReady?.(1);
      return imports;
    },
    events,
    batches,
    denials: worker.denials,
    logs,
    until,
    commits: service.commits,
    started: () => Promise.all(worker.startup),
    close: async () => {
      await binding?.close?.();
    },
    hold() {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = Promise.resolve();
        release();
      };
    },
    /** Events of one connection, in order. */
    of: (id: number) => events.filter((e) => (e.tag === 'opened' ? e.val.id : e.tag === 'data' ? e.val[0] : e.val) === id),
    opened: () => events.flatMap((e) => (e.tag === 'opened' ? [e.val] : [])),
    closed: (id: number) => events.some((e) => e.tag === 'closed' && e.val === id),
    received: (id: number) => Buffer.concat(events.flatMap((e) => (e.tag === 'data' && e.val[0] === id ? [e.val[1]] : []))),
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const grantFor = (fields: Partial<SocketGrant>): SocketGrant => socketGrant.parse(fields);

/** A host listening on a fresh port, closed after the test. */
async function listening(fields: Partial<SocketGrant> = {}, subprotocol?: string) {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const f = fakeContext();
  const host = f.create(grantFor({ listen: [address], ...fields }));
  assert.deepEqual(host.listen(address, subprotocol), { tag: 'ok', val: undefined });
  await f.started();
  cleanups.push(f.close);
  return { ...f, host, port, address };
}

const cleanups: (() => Promise<unknown>)[] = [];
after(() => Promise.all(cleanups.map((c) => c())));

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await once(s, 'connect');
  return s;
}

/** Reads everything the peer sends until it closes. */
function readAll(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return once(s, 'close').then(() => Buffer.concat(chunks));
}

async function openWebSocket(port: number, protocols: string[] = ['mqtt']) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, protocols);
  await once(ws, 'open');
  return ws;
}

/**
 * Sends 16 KiB chunks to a peer that does not read, a turn of the event loop
 * apart, until the host closes the connection (the send that finds it over its
 * budget answers `limited`); sends after that are invalid. Fails if the host
 * never closes it (256 MiB).
 */
async function sendUntilClosed(s: Awaited<ReturnType<typeof listening>>, id: number) {
  const chunk = new Uint8Array(16 * 1024);
  for (let sent = 0; !s.closed(id); sent += chunk.length) {
    assert.ok(sent < 256 * 1024 * 1024, 'the host never closed a peer that does not read');
    const r = s.host.send(id, chunk);
    if (r.tag === 'err') {
      assert.equal(r.val.tag, 'limited');
      break;
    }
    await new Promise((r) => setImmediate(r));
  }
  await s.until(() => s.closed(id));
  const r = s.host.send(id, chunk);
  assert.equal(r.tag, 'err');
  assert.equal(r.tag === 'err' && r.val.tag, 'invalid');
}

describe('listen', () => {
  test('an address that is not granted is denied and not bound', async () => {
    const [granted, other] = [await freePort(), await freePort()];
    const f = fakeContext();
    const host = f.create(grantFor({ listen: [`127.0.0.1:${granted}`] }));
    const r = host.listen(`127.0.0.1:${other}`, undefined);
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'denied');
    assert.match(r.val.val, new RegExp(`listen 127\\.0\\.0\\.1:${other}`));
    assert.deepEqual(f.denials, [
      {
        target: `listen 127.0.0.1:${other}`,
        allowWith: `--server-socket-address 127.0.0.1:${other} (or modules.server.grants.socket.listen)`,
      },
    ]);
    const refused = net.connect(other, '127.0.0.1');
    const [e] = await once(refused, 'error');
    assert.equal((e as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  });

  test('any module is told its own flag and config key', () => {
    const f = fakeContext('broker');
    const host = f.create(grantFor({}));
    host.listen('127.0.0.1:1883', undefined);
    assert.equal(f.denials[0].allowWith, '--broker-socket-address 127.0.0.1:1883 (or modules.broker.grants.socket.listen)');
  });

  test('a malformed address is invalid', () => {
    const f = fakeContext();
    const host = f.create(grantFor({ listen: ['127.0.0.1:1883'] }));
    for (const bad of ['localhost:1883', '127.0.0.1', '::1:1883', '127.0.0.1:0', 'nope']) {
      const r = host.listen(bad, undefined);
      assert.equal(r.tag, 'err', bad);
      assert.equal(r.val.tag, 'invalid', bad);
    }
    assert.equal(f.denials.length, 0);
  });

  test('an address in use fails the start and the log names it', async () => {
    const port = await freePort();
    const squatter = net.createServer().listen(port, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      const f = fakeContext();
      const host = f.create(grantFor({ listen: [`127.0.0.1:${port}`] }));
      assert.equal(host.listen(`127.0.0.1:${port}`, undefined).tag, 'ok');
      await assert.rejects(f.started(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`));
      assert.ok(f.logs.some((l) => l.level === 50 && l.address === `127.0.0.1:${port}`));
    } finally {
      squatter.close();
    }
  });

  test('listening twice on one address fails', async () => {
    const { host, address } = await listening();
    const r = host.listen(address, undefined);
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'failed');
  });

  test('logs one line per bound address', async () => {
    const { logs, address } = await listening({}, 'mqtt');
    assert.deepEqual(
      logs.filter((l) => l.msg === 'listening').map((l) => [l.address, l.websocket]),
      [[address, true]],
    );
  });
});

describe('tcp connections', () => {
  test('events arrive opened, data, closed per connection, with fresh increasing ids', async () => {
    const s = await listening();
    const clients = await Promise.all([1, 2, 3].map(() => connect(s.port)));
    const ports = clients.map((c) => c.localPort);
    for (const [i, c] of clients.entries()) {
      c.write(`hello ${i} `);
      c.end(`bye ${i}`);
    }
    await s.until(() => s.events.filter((e) => e.tag === 'closed').length === 3);

    const opened = s.opened();
    assert.equal(opened.length, 3);
    const ids = opened.map((o) => o.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
    assert.equal(new Set(ids).size, 3);
    for (const o of opened) {
      assert.equal(o.transport, 'tcp');
      assert.equal(o.localAddress, s.address);
      const i = ports.findIndex((p) => `127.0.0.1:${p}` === o.remoteAddress);
      assert.ok(i >= 0, `no client at ${o.remoteAddress}`);
      const mine = s.of(o.id);
      assert.equal(mine[0].tag, 'opened');
      assert.equal(mine.at(-1)?.tag, 'closed');
      assert.equal(mine.filter((e) => e.tag === 'closed').length, 1);
      assert.ok(mine.slice(1, -1).every((e) => e.tag === 'data'));
      assert.equal(s.received(o.id).toString(), `hello ${i} bye ${i}`);
    }
  });

  test('events of one turn are delivered in one call', async () => {
    const s = await listening();
    const c = await connect(s.port);
    c.end('x');
    await s.until(() => s.events.some((e) => e.tag === 'closed'));
    // opened, data and closed may span turns, but never one call per event for a burst
    assert.ok(s.batches.length <= s.events.length);
    assert.ok(s.batches.every((b) => b.length > 0));
  });

  test('a guest call carries at most CALL_INPUT_BYTES of received bytes, in order', async () => {
    const s = await listening();
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect(s.port)));
    const each = 256 * 1024;
    // Eight peers at once: a turn reads far more than one call may carry.
    for (const [i, c] of clients.entries()) c.write(Buffer.alloc(each, i + 1));
    await s.until(() => s.opened().every((o) => s.received(o.id).length === each) && s.opened().length === 8);
    const bytesOf = (b: SocketEvent[]) => b.reduce((n, e) => n + (e.tag === 'data' ? e.val[1].length : 0), 0);
    const over = s.batches.filter((b) => bytesOf(b) > CALL_INPUT_BYTES && b.length > 1);
    assert.deepEqual(over.map(bytesOf), []);
    for (const [i, o] of s.opened().entries())
      assert.ok(
        s.received(o.id).every((x) => x === i + 1),
        `connection ${o.id} got another's bytes`,
      );
  });

  test('ids are not reused after a connection closes', async () => {
    const s = await listening();
    const a = await connect(s.port);
    await s.until(() => s.opened().length === 1);
    a.destroy();
    await s.until(() => s.closed(s.opened()[0].id));
    await connect(s.port);
    await s.until(() => s.opened().length === 2);
    const [first, second] = s.opened();
    assert.ok(second.id > first.id);
  });

  test('what the guest sends reaches the client; close flushes everything first', async () => {
    const s = await listening();
    const c = await connect(s.port);
    await s.until(() => s.opened().length === 1);
    const { id } = s.opened()[0];
    const all = readAll(c);
    const big = Buffer.alloc(512 * 1024, 7);
    assert.deepEqual(s.host.send(id, new Uint8Array([1, 2, 3])), { tag: 'ok', val: undefined });
    assert.equal(s.host.send(id, big).tag, 'ok');
    s.host.close(id);
    const got = await all;
    assert.equal(got.length, 3 + big.length);
    assert.deepEqual([...got.subarray(0, 3)], [1, 2, 3]);
    await s.until(() => s.closed(id));
    const r = s.host.send(id, new Uint8Array([1]));
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'invalid');
  });

  test('unknown ids: send is invalid, close is ignored', async () => {
    const s = await listening();
    const r = s.host.send(4242, new Uint8Array([1]));
    assert.equal(r.tag, 'err');
    assert.equal(r.val.tag, 'invalid');
    s.host.close(4242);
  });

  test('a client that does not read is closed past maxBufferedBytes, and the guest is told it closed', async () => {
    const limit = 64 * 1024;
    const s = await listening({ maxBufferedBytes: limit });
    const c = await connect(s.port);
    c.pause();
    await s.until(() => s.opened().length === 1);
    const { id, remoteAddress } = s.opened()[0];
    await sendUntilClosed(s, id);
    const warning = s.logs.find((l) => l.level === 40 && l.connection === id);
    assert.ok(warning);
    assert.equal(warning.remoteAddress, remoteAddress);
    assert.equal(warning.limit, limit);
    assert.equal(warning.module, 'server');
    c.destroy();
  });

  test('connections over maxConnections are cut at once, logged once', async () => {
    const s = await listening({ maxConnections: 2 });
    const kept = await Promise.all([connect(s.port), connect(s.port)]);
    await s.until(() => s.opened().length === 2);
    for (let i = 0; i < 2; i++) {
      const extra = net.connect(s.port, '127.0.0.1');
      extra.on('error', () => {});
      await once(extra, 'close');
    }
    assert.equal(s.opened().length, 2);
    assert.equal(s.logs.filter((l) => /connection limit/.test(l.msg)).length, 1);
    // A slot freed is usable again.
    kept[0].destroy();
    await s.until(() => s.events.some((e) => e.tag === 'closed'));
    await connect(s.port);
    await s.until(() => s.opened().length === 3);
  });

  test('reading stops on every connection while the guest is behind', async () => {
    const s = await listening();
    const release = s.hold();
    const c = await connect(s.port);
    const total = 4 * GUEST_BACKLOG_BYTES;
    const written = new Promise((r) => c.write(Buffer.alloc(total, 1), r));
    await s.until(() => s.logs.some((l) => /guest is behind/.test(l.msg)));
    // Several turns later (a new connection accepted and reported), reading is still stopped.
    const other = await connect(s.port);
    other.write('queued');
    await s.until(() => s.opened().length === 2);
    const [first, second] = s.opened();
    const held = s.received(first.id).length;
    assert.ok(held <= GUEST_BACKLOG_BYTES + 256 * 1024, `${held} bytes read while the guest was behind`);
    assert.equal(s.received(second.id).length, 0);

    release();
    await written;
    await s.until(() => s.received(first.id).length === total && s.received(second.id).length === 6);
    assert.ok(s.logs.some((l) => /caught up/.test(l.msg)));
  });

  test('closing the module closes listeners and connections', async () => {
    const port = await freePort();
    const f = fakeContext();
    const host = f.create(grantFor({ listen: [`127.0.0.1:${port}`] }));
    host.listen(`127.0.0.1:${port}`, undefined);
    await f.started();
    const c = await connect(port);
    await f.until(() => f.opened().length === 1);
    const closed = once(c, 'close');
    await f.close();
    await closed;
    // The port is free again for the next instance.
    const again = net.createServer().listen(port, '127.0.0.1');
    await once(again, 'listening');
    again.close();
  });
});

describe('websocket on the same port', () => {
  test('binary frames go both ways; raw TCP still works beside it', async () => {
    const s = await listening({}, 'mqtt');
    const ws = await openWebSocket(s.port);
    assert.equal(ws.protocol, 'mqtt');
    ws.send(Buffer.from([0x10, 0x02, 0x00, 0x00]));
    await s.until(() => s.received(s.opened()[0]?.id ?? -1).length === 4);
    const info = s.opened()[0];
    assert.equal(info.transport, 'websocket');
    assert.equal(info.localAddress, s.address);

    const reply = once(ws, 'message');
    assert.equal(s.host.send(info.id, new Uint8Array([0x20, 0x02, 0, 0])).tag, 'ok');
    const [data, isBinary] = await reply;
    assert.equal(isBinary, true);
    assert.deepEqual([...(data as Buffer)], [0x20, 0x02, 0, 0]);

    const tcp = await connect(s.port);
    tcp.write(Buffer.from([0x10, 0x00]));
    await s.until(() => s.opened().length === 2 && s.received(s.opened()[1].id).length === 2);
    assert.equal(s.opened()[1].transport, 'tcp');

    const closedByHost = once(ws, 'close');
    s.host.close(info.id);
    const [code] = await closedByHost;
    assert.equal(code, 1000);
    await s.until(() => s.closed(info.id));
  });

  test('a peer sending "G" first is still told apart when the rest comes later', async () => {
    const s = await listening({}, 'mqtt');
    const c = await connect(s.port);
    c.setNoDelay(true);
    c.write('G');
    await new Promise((r) => setImmediate(r));
    c.write('ARBAGE');
    await s.until(() => s.opened().length === 1 && s.received(s.opened()[0].id).length === 7);
    assert.equal(s.opened()[0].transport, 'tcp');
    assert.equal(s.received(s.opened()[0].id).toString(), 'GARBAGE');
  });

  test('an upgrade without the subprotocol is refused', async () => {
    const s = await listening({}, 'mqtt');
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/`);
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
    assert.equal(res.statusCode, 400);
    ws.terminate();
    const wrong = new WebSocket(`ws://127.0.0.1:${s.port}/`, ['mqttv3.1']);
    wrong.on('error', () => {});
    const [, res2] = (await once(wrong, 'unexpected-response')) as [unknown, http.IncomingMessage];
    assert.equal(res2.statusCode, 400);
    wrong.terminate();
    assert.equal(s.opened().length, 0);
  });

  test('a plain HTTP request gets 426', async () => {
    const s = await listening({}, 'mqtt');
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port: s.port, path: '/', agent: false }, resolve).on('error', reject),
    );
    assert.equal(res.statusCode, 426);
    res.resume();
    assert.equal(s.opened().length, 0);
  });

  test('a text frame closes the connection', async () => {
    const s = await listening({}, 'mqtt');
    const ws = await openWebSocket(s.port);
    const closed = once(ws, 'close');
    ws.send('hello');
    const [code] = await closed;
    assert.equal(code, 1003);
    await s.until(() => s.events.some((e) => e.tag === 'closed'));
    assert.deepEqual(
      s.events.map((e) => e.tag),
      ['opened', 'closed'],
    );
  });

  test('a websocket client that does not read is closed past maxBufferedBytes', async () => {
    const s = await listening({ maxBufferedBytes: 64 * 1024 }, 'mqtt');
    const ws = await openWebSocket(s.port);
    ws.pause();
    await s.until(() => s.opened().length === 1);
    const { id } = s.opened()[0];
    await sendUntilClosed(s, id);
    ws.terminate();
  });
});

describe('budgets a stranger cannot get around', () => {
  test('one address holds at most maxConnectionsPerAddress connections; the next is refused at accept', async () => {
    const s = await listening({ maxConnectionsPerAddress: 3 });
    const kept = await Promise.all([1, 2, 3].map(() => connect(s.port)));
    await s.until(() => s.opened().length === 3);
    const extra = net.connect(s.port, '127.0.0.1');
    extra.on('error', () => {});
    await once(extra, 'close');
    assert.equal(s.opened().length, 3);
    assert.ok(s.logs.some((l) => l.limit === 'grants.socket.maxConnectionsPerAddress'));
    for (const k of kept) k.destroy();
  });

  test('a peer trickling its upgrade is cut at handshakeTimeoutMs from accept, however often it sends', async () => {
    const s = await listening({ handshakeTimeoutMs: 400 }, 'mqtt');
    const c = await connect(s.port);
    const started = performance.now();
    const closed = once(c, 'close');
    // "GET " and then a header line a byte at a time, every 50 ms: never idle, never done.
    c.write('GET / HTTP/1.1\r\n');
    const trickle = setInterval(() => c.writable && c.write('X'), 50);
    await closed;
    clearInterval(trickle);
    const ms = performance.now() - started;
    assert.ok(ms >= 350 && ms < 2000, `closed after ${ms.toFixed(0)} ms`);
    assert.equal(s.opened().length, 0);
  });

  test('a WebSocket message over maxWebSocketMessageBytes closes that connection (1009) without holding it', async () => {
    const s = await listening({ maxWebSocketMessageBytes: 1024 }, 'mqtt');
    const ws = await openWebSocket(s.port);
    const closed = once(ws, 'close');
    ws.send(Buffer.alloc(4096, 1));
    const [code] = await closed;
    assert.equal(code, 1009);
    assert.equal(s.received(s.opened()[0].id).length, 0);
  });
});

test("the host-wide input budget pauses every module's reading past it and resumes below three quarters", async () => {
  const { InputBudget } = await import('../../../../host/capabilities/socket/service.ts');
  const budget = new InputBudget(100);
  const flips: boolean[] = [];
  budget.watch(() => flips.push(budget.over));
  budget.add(60);
  budget.add(60);
  assert.deepEqual(flips, [true]);
  budget.release(40);
  assert.deepEqual(flips, [true], 'still over three quarters');
  budget.release(10);
  assert.deepEqual(flips, [true, false]);
});
