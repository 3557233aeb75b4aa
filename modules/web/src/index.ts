// Web: a standard wasi:http service that also reads and writes the bus (world http-service).
// It subscribes to `filter` (default telemetry/#) and keeps the latest reading of each device;
// over HTTP, on the addresses and routes its grant gives it (grants.http):
//   GET  /          a small HTML status page (refreshes every 5 s)
//   GET  /latest    the latest reading per device, as JSON
//   POST /readings  a reading ({"deviceId": ..., ...}) published to <topic-prefix><deviceId>: a
//                   webhook that lands on the bus (needs a publish grant for those topics)

import type { Message } from 'edgehost:platform/pubsub@0.1.0';
import { publish, subscribe } from 'edgehost:platform/pubsub@0.1.0';
import { now } from 'wasi:clocks/wall-clock@0.2.12';
import { Fields, type IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam } from 'wasi:http/types@0.2.12';
import { ConfigError, describeError, errorPayload, installConsole, readConfig } from '../../shared/guest.ts';
import { decodeUtf8, encodeUtf8 } from '../../shared/utf8.ts';
import moduleJson from '../module.json' with { type: 'json' };
import { DEVICE_ID, Latest } from './latest.ts';

installConsole();

const CHUNK = 64 * 1024;
let latest = new Latest('telemetry/', 1000);
let prefix = 'telemetry/';
let title = 'edgehost';
let maxBodyBytes = 65536;
/** The /latest body, encoded once per change rather than once per request. */
let latestBody: { json: string; bytes: Uint8Array } | undefined;

export const lifecycle = {
  init(): void {
    const cfg = readConfig(moduleJson.config);
    prefix = cfg.string('topic-prefix');
    title = cfg.string('title');
    maxBodyBytes = cfg.number('max-body-bytes', { integer: true, min: 1, max: 16 * 1024 * 1024 });
    latest = new Latest(prefix, cfg.number('max-devices', { integer: true, min: 1 }));
    const filter = cfg.string('filter');
    try {
      subscribe(filter);
    } catch (e) {
      throw new ConfigError('filter', `subscribe to ${JSON.stringify(filter)} failed: ${describeError(e)}`);
    }
    console.info(`web: showing the latest of ${filter}`);
  },
};

export const messageHandler = {
  handle(messages: Message[]): void {
    for (const m of messages) latest.update(m.topic, decodeUtf8(m.payload), m.publishedAt);
  },
};

type Header = [string, string];

/** Header values encoded once: the same few are sent with every response. */
const encoded = new Map<string, Uint8Array>();
function headerValue(text: string): Uint8Array {
  let bytes = encoded.get(text);
  if (!bytes) {
    bytes = encodeUtf8(text);
    if (encoded.size < 64) encoded.set(text, bytes);
  }
  return bytes;
}

function respond(out: ResponseOutparam, status: number, contentType: string, body: Uint8Array, extra: Header[] = []): void {
  const headers: [string, Uint8Array][] = [
    ['content-type', headerValue(contentType)],
    ['content-length', headerValue(String(body.length))],
  ];
  for (const [name, value] of extra) headers.push([name, headerValue(value)]);
  const response = new OutgoingResponse(Fields.fromList(headers));
  response.setStatusCode(status);
  const outgoing = response.body();
  ResponseOutparam.set(out, { tag: 'ok', val: response });
  const stream = outgoing.write();
  // As much as the host takes now (check-write), waiting only when it has no room: a small body
  // goes out without the guest waiting at all.
  for (let at = 0; at < body.length; ) {
    const room = Math.min(Number(stream.checkWrite()), CHUNK, body.length - at);
    if (room === 0) {
      stream.blockingFlush();
      continue;
    }
    stream.write(body.subarray(at, at + room));
    at += room;
  }
  // The stream is a child of the body: dropped before the body is finished.
  stream[Symbol.dispose]();
  OutgoingBody.finish(outgoing, null);
}

const text = (out: ResponseOutparam, status: number, message: string, extra: Header[] = []) =>
  respond(out, status, 'text/plain; charset=utf-8', encodeUtf8(`${message}\n`), extra);

/** The request body, up to `max` bytes; undefined when it is longer. */
function readBody(request: IncomingRequest, max: number): Uint8Array | undefined {
  const stream = request.consume().stream();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let chunk: Uint8Array;
      try {
        chunk = stream.blockingRead(CHUNK);
      } catch (e) {
        if (errorPayload(e)?.tag === 'closed') break;
        throw e;
      }
      size += chunk.length;
      if (size > max) return undefined;
      chunks.push(chunk);
    }
  } finally {
    stream[Symbol.dispose]();
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return body;
}

function postReading(request: IncomingRequest, out: ResponseOutparam): void {
  const outcome = publishReading(request);
  if (typeof outcome === 'string') respond(out, 202, 'application/json', encodeUtf8(JSON.stringify({ topic: outcome })));
  else text(out, outcome.status, outcome.message);
}

/** Publishes the posted reading; returns its topic, or the status and text to answer with. */
function publishReading(request: IncomingRequest): string | { status: number; message: string } {
  let body: Uint8Array | undefined;
  try {
    body = readBody(request, maxBodyBytes);
  } catch (e) {
    return { status: 400, message: `the request body could not be read: ${describeError(e)}` };
  }
  if (body === undefined) return { status: 413, message: `a reading is at most ${maxBodyBytes} bytes (config max-body-bytes)` };
  let reading: unknown;
  try {
    reading = JSON.parse(decodeUtf8(body));
  } catch {
    return { status: 400, message: 'a reading is a JSON object' };
  }
  const deviceId = reading !== null && typeof reading === 'object' ? (reading as { deviceId?: unknown }).deviceId : undefined;
  if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) {
    return { status: 400, message: 'a reading needs a "deviceId": letters, digits and _ . : - (at most 128)' };
  }
  const topic = `${prefix}${deviceId}`;
  try {
    publish(topic, body);
  } catch (e) {
    const tag = errorPayload(e)?.tag;
    return { status: tag === 'denied' ? 403 : tag === 'limited' ? 429 : 400, message: `not published: ${describeError(e)}` };
  }
  return topic;
}

export const incomingHandler = {
  handle(request: IncomingRequest, out: ResponseOutparam): void {
    const method = request.method().tag;
    const full = request.pathWithQuery() ?? '/';
    const q = full.indexOf('?');
    const path = q === -1 ? full : full.slice(0, q);
    const read = method === 'get' || method === 'head';
    if (path === '/latest' && read) {
      const json = latest.json();
      if (latestBody?.json !== json) latestBody = { json, bytes: encodeUtf8(json) };
      respond(out, 200, 'application/json', latestBody.bytes, [['cache-control', 'no-store']]);
    } else if (path === '/' && read) {
      const t = now();
      respond(out, 200, 'text/html; charset=utf-8', encodeUtf8(latest.page(title, t.seconds * 1000 + Math.floor(t.nanoseconds / 1e6))));
    } else if (path === '/readings' && method === 'post') {
      postReading(request, out);
    } else if (path === '/latest' || path === '/' || path === '/readings') {
      text(out, 405, `${path} does not take ${method.toUpperCase()}`, [['allow', path === '/readings' ? 'POST' : 'GET, HEAD']]);
    } else {
      text(out, 404, `no page ${path}`);
    }
  },
};
