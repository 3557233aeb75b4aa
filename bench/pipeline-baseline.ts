// Baseline for bench/pipeline.ts: the telemetry -> bus -> gateway -> HTTP pipeline in plain
// Node, no WebAssembly, no sandbox. Runs as a worker thread started by pipeline.ts (see there
// for why). It mirrors what the guests and the host do, in plain JS (bench/plain.ts):
//   - generator: like modules/telemetry, one periodic timer (setInterval) publishing
//     `devices x burst` readings per tick as UTF-8 JSON bytes, one topic per device; a tick
//     runs synchronously, so ticks cannot pile up (the host skips a tick that is still queued);
//   - queue: the host's own Bus (host/bus/bus.ts) with the gateway's delivery options
//     (maxBatch, lingerMs, capacity, drop-oldest), so batching and the one-batch-in-flight
//     rule are the real ones;
//   - consumer: like modules/gateway, checks each payload is JSON, joins the batch into one
//     `[p1,p2,...]` body and POSTs it with node:http over a keep-alive agent (the client the
//     host's outbound-http capability uses, with a 5 s timeout); 2xx acknowledges the batch.
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { Bus } from '../host/bus/bus.ts';
import { deliveryOptions } from '../host/config/schema.ts';
import { batchBody, device } from './plain.ts';

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

/** POSTs `body` and resolves with the status once the whole response arrived. */
function post(url: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), 'user-agent': 'edgehost-bench-baseline' },
    });
    const timer = setTimeout(() => req.destroy(new Error('no response within 5000 ms')), 5000);
    req.on('response', (res) => {
      res.on('data', () => {});
      res.on('end', () => {
        clearTimeout(timer);
        resolve(res.statusCode ?? 0);
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

let dropped = 0;
const bus = new Bus({ onOverflow: () => void dropped++ });

// The options a module's `delivery` config resolves to (the host passes them to the bus as
// they are), with the schema's defaults for everything the bench does not set.
const delivery = deliveryOptions.parse({ maxBatch: o.maxBatch, lingerMs: o.lingerMs, capacity: o.capacity, overflow: 'drop-oldest' });
const gateway = bus.addSubscriber('gateway', delivery, async (batch) => {
  if (batch.length === 0) return;
  const body = batchBody(batch.map((m) => m.payload));
  const status = await post(o.url, body);
  if (status < 200 || status > 299) throw new Error(`sink answered ${status}`);
});
gateway.subscribe('telemetry/#');

const devices = o.devices.map(device);
const timer = setInterval(() => {
  const timestampPart = `,"timestamp":${Date.now()}`;
  for (const d of devices) {
    for (let i = 0; i < o.burst; i++) bus.publish(d.topic, d.reading(timestampPart), 'telemetry');
  }
}, o.intervalMs);

port.on('message', (m: { t: string }) => {
  if (m.t === 'cpu') {
    const { user, system } = process.threadCpuUsage();
    port.postMessage({ t: 'cpu', cpuMs: (user + system) / 1000 });
    return;
  }
  if (m.t !== 'stop') return;
  clearInterval(timer);
  const stats = gateway.stats();
  port.postMessage({ t: 'stopped', published: bus.published, delivered: stats.delivered, queued: stats.queued, dropped });
  agent.destroy();
  process.exit(0);
});
