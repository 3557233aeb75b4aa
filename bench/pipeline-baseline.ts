// Baseline for bench/pipeline.ts: the telemetry -> bus -> gateway -> HTTP pipeline in plain
// Node, no WebAssembly, no sandbox. Runs as a worker thread started by pipeline.ts (see there
// for why). Everything below mirrors what the guests and the host do, in plain JS:
//   - generator: like modules/telemetry, a periodic timer (setInterval) that publishes
//     `devices x burst` readings per tick as UTF-8 JSON bytes, one topic per device;
//   - queue: the host's own Bus (host/bus/bus.ts), with the gateway's delivery options
//     (maxBatch, lingerMs, capacity, drop-oldest), so batching and the one-batch-in-flight
//     rule are the real ones;
//   - consumer: like modules/gateway, checks that each payload is JSON (JSON.parse), joins the
//     batch into one `[p1,p2,...]` body and POSTs it with got over a keep-alive agent (the
//     same client and settings the host's outbound-http capability uses); 2xx acknowledges.
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import got from 'got';
import { Bus, type BusMessage } from '../host/bus/bus.ts';

export interface BaselineOptions {
  url: string;
  devices: string[];
  burst: number;
  intervalMs: number;
  maxBatch: number;
  lingerMs: number;
  capacity: number;
}

const o = workerData as BaselineOptions;
const port = parentPort!;

const agent = new http.Agent({ keepAlive: true });
const client = got.extend({
  agent: { http: agent },
  followRedirect: false,
  throwHttpErrors: false,
  retry: { limit: 0 },
  decompress: false,
  headers: { 'user-agent': 'edgehost-bench-baseline' },
});

let dropped = 0;
let failed = 0;
const bus = new Bus({ onOverflow: () => void dropped++ });

const OPEN = 0x5b;
const COMMA = 0x2c;
const CLOSE = 0x5d;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** As the gateway: the payload itself when it is JSON, else the text as a JSON string. */
function jsonBytes(payload: Uint8Array): Uint8Array {
  try {
    JSON.parse(decoder.decode(payload));
    return payload;
  } catch {
    return Buffer.from(JSON.stringify(new TextDecoder().decode(payload)));
  }
}

function batchBody(messages: BusMessage[]): Buffer {
  const parts = messages.map((m) => jsonBytes(m.payload));
  let size = 2 + Math.max(parts.length - 1, 0);
  for (const p of parts) size += p.length;
  const body = Buffer.allocUnsafe(size);
  let at = 0;
  body[at++] = OPEN;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) body[at++] = COMMA;
    body.set(parts[i], at);
    at += parts[i].length;
  }
  body[at] = CLOSE;
  return body;
}

const gateway = bus.addSubscriber(
  'gateway',
  { maxBatch: o.maxBatch, lingerMs: o.lingerMs, capacity: o.capacity, overflow: 'drop-oldest', noLocal: false, retryInitialMs: 100, retryMaxMs: 10_000 },
  async (batch) => {
    if (batch.length === 0) return;
    const res = await client.post(o.url, { body: batchBody(batch), headers: { 'content-type': 'application/json' }, timeout: { request: 5000 } });
    if (res.statusCode < 200 || res.statusCode > 299) {
      failed++;
      throw new Error(`sink answered ${res.statusCode}`);
    }
  },
);
gateway.subscribe('telemetry/#');

// The generator: the same readings as modules/telemetry, same schedule semantics (one
// periodic timer; a tick publishes burst readings for every device; a tick cannot overlap
// the previous one since it runs synchronously).
const devices = o.devices.map((id) => ({ id, topic: `telemetry/${id}`, head: `{"deviceId":${JSON.stringify(id)},"temperature":`, seq: 0 }));
const sample = (min: number, max: number) => Math.round((min + Math.random() * (max - min)) * 100) / 100;
const timer = setInterval(() => {
  const timestamp = `,"timestamp":${Date.now()}`;
  for (const d of devices) {
    for (let i = 0; i < o.burst; i++) {
      d.seq++;
      const text = `${d.head}${sample(15, 30)},"pressure":${sample(980, 1040)}${timestamp},"seq":${d.seq}}`;
      bus.publish(d.topic, Buffer.from(text), 'telemetry');
    }
  }
}, o.intervalMs);

port.on('message', async (m: { t: string }) => {
  if (m.t !== 'stop') return;
  clearInterval(timer);
  const stats = gateway.stats();
  port.postMessage({ t: 'stopped', published: bus.published, delivered: stats.delivered, queued: stats.queued, dropped, failed });
  agent.destroy();
  process.exit(0);
});
port.postMessage({ t: 'started' });
