// The event streams' budgets, over real HTTP on loopback: at most
// MAX_EVENT_STREAMS at once, a client that stops reading is cut off once the
// host holds STREAM_BUFFER_BYTES for it (and one that reads is not), and a
// new stream starts with the kept log tail.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import type { AdminContext } from '../../../host/admin/context.ts';
import { EventHub, MAX_EVENT_STREAMS, STREAM_BUFFER_BYTES } from '../../../host/admin/events.ts';
import { sendError } from '../../../host/admin/http.ts';
import { LogTail } from '../../../host/admin/log-tail.ts';

interface Fixture {
  hub: EventHub;
  tail: LogTail;
  url: string;
  port: number;
  warnings: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A hub with no modules behind an HTTP server, as the admin API routes GET /v1/events to it. */
async function fixture(): Promise<Fixture> {
  const warnings: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
  const ctx = {
    host: { modules: new Map(), bus: { publishedBy: () => 0, subscriber: () => undefined } },
    desired: { deployment: () => undefined },
    logger,
  } as unknown as AdminContext;
  const tail = new LogTail();
  const hub = new EventHub(ctx, tail);
  const server: Server = createServer((req, res) => {
    try {
      hub.open(req, res);
    } catch (e) {
      sendError(res, e);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    hub,
    tail,
    url: `http://127.0.0.1:${port}/v1/events`,
    port,
    warnings,
    async close() {
      hub.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Resolves once `holds()` is true, checking at each turn of the event loop (where sockets report). */
async function until(holds: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!holds()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise(setImmediate);
  }
}

/** Reads a stream as text: each call reads on until `text` has arrived, and answers what came since the last call. */
function textOf(body: ReadableStream<Uint8Array>): (text: string) => Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  return async (text) => {
    let got = '';
    while (!got.includes(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before "${text}"; it had: ${got.slice(0, 500)}`);
      got += decoder.decode(value, { stream: true });
    }
    return got;
  };
}

test('a new event stream gets a module snapshot and the kept log lines first, then lines as they are logged', async () => {
  const f = await fixture();
  try {
    f.tail.write('{"level":30,"msg":"before"}\n');
    const controller = new AbortController();
    const res = await fetch(f.url, { signal: controller.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const readUntil = textOf(res.body!);
    const first = await readUntil('before');
    assert.match(first, /event: modules\ndata: \{"t":\d+,"modules":\[\]\}\n\n/);
    assert.match(first, /event: log\ndata: \{"level":30,"msg":"before"\}\n\n/);
    f.tail.write('{"level":40,"msg":"after"}\n');
    assert.match(await readUntil('after'), /event: log\ndata: \{"level":40,"msg":"after"\}/);
    controller.abort();
  } finally {
    await f.close();
  }
});

test(`at most ${MAX_EVENT_STREAMS} event streams are open at once; the next gets 429 EH_ADMIN_BUSY, and a place frees when one closes`, async () => {
  const f = await fixture();
  try {
    const controllers = Array.from({ length: MAX_EVENT_STREAMS }, () => new AbortController());
    const streams = await Promise.all(controllers.map((c) => fetch(f.url, { signal: c.signal })));
    assert.deepEqual(
      streams.map((r) => r.status),
      streams.map(() => 200),
    );
    const refused = await fetch(f.url);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal(((await refused.json()) as { code: string }).code, 'EH_ADMIN_BUSY');

    controllers[0].abort();
    // The host notices the close when the socket ends; then the next stream is taken.
    await until(() => f.hub.streams < MAX_EVENT_STREAMS, 'the host to notice the closed stream');
    const next = new AbortController();
    assert.equal((await fetch(f.url, { signal: next.signal })).status, 200);
    for (const c of [...controllers, next]) c.abort();
  } finally {
    await f.close();
  }
});

test('a client that stops reading is cut off once the host holds STREAM_BUFFER_BYTES for it, while a client that reads keeps its stream', async () => {
  const f = await fixture();
  try {
    // The stalled client: a raw socket that sends the request and never reads.
    const stalled = connect(f.port, '127.0.0.1');
    stalled.pause();
    stalled.write('GET /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    const stalledClosed = once(stalled, 'close');
    stalled.on('error', () => {});
    // The reading client.
    const controller = new AbortController();
    const reading = await fetch(f.url, { signal: controller.signal });
    const reader = reading.body!.getReader();
    let readBytes = 0;
    const drained = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        readBytes += value!.length;
      }
    })();
    await until(() => f.hub.streams === 2, 'both streams open');

    // Log lines until the host gives up on the stalled client: the kernel's socket buffers fill
    // first (several MiB on loopback), then the host's own, up to the budget.
    const line = JSON.stringify({ level: 30, msg: 'x'.repeat(4000) });
    let written = 0;
    while (f.warnings.length === 0) {
      assert.ok(written < 200 * 1024 * 1024, 'wrote 200 MiB and the stalled client was never cut');
      for (let i = 0; i < 16; i++) f.tail.write(line);
      written += 16 * line.length;
      await new Promise(setImmediate);
    }
    const [warning] = f.warnings;
    assert.equal(warning.client, `127.0.0.1:${stalled.localPort}`, `the stalled client is the one cut: ${JSON.stringify(warning)}`);
    // A paused socket does not read, so it sees the host's close only once it reads again.
    stalled.resume();
    await stalledClosed;
    assert.equal(warning.code, 'EH_ADMIN_SLOW_CLIENT');
    assert.ok(Number(warning.bufferedBytes) > STREAM_BUFFER_BYTES);
    assert.equal(f.hub.streams, 1, 'the reading client keeps its stream');
    assert.ok(readBytes > 0);
    controller.abort();
    await drained;
  } finally {
    await f.close();
  }
});
